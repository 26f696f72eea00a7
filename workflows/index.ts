/** The worker's workflowsPath: every workflow this worker runs. */
export { provisionResourceAccount } from './provision-resource-account/workflow';
