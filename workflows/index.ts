/** The worker's workflowsPath: every workflow this worker runs. */
export { provisionResourceAccount } from './provision-resource-account/workflow';
export { provisionBatch } from './provision-batch/workflow';
export { licensePurchaseLedger } from './license-purchase-ledger/workflow';
export { deliverNotification } from './notification/workflow';
