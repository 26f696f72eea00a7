/**
 * Operators approve a license purchase for a run or a batch waiting for licenses:
 * `POST /v1/resource-accounts/{id}/license-purchase` and `POST /v1/batches/{id}/license-purchase`.
 * The API only delivers the approval (a Temporal update, validated by the workflow); the purchase runs
 * in the worker, as an activity, within the worker's ceilings.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { ApiError } from '../errors';
import { BATCH_ID_MAX_LENGTH, BatchParams } from '../schemas/batches';
import { BEARER_SECURITY, V1_ERRORS, errorResponses } from '../schemas/common';
import { LicensePurchaseBody, LicensePurchaseHeaders, LicensePurchaseResponse } from '../schemas/license-purchase';
import { ResourceAccountParams } from '../schemas/resource-accounts';
import { resourceAccountId, statusUrl, timedOut, workerUnavailable } from '../services/resource-accounts';
import { approveBatchLicensePurchaseUpdate, batchWorkflowId } from '../../workflows/provision-batch/definitions';
import { approveLicensePurchaseUpdate, resourceAccountWorkflowId } from '../../workflows/provision-resource-account/definitions';
import type { ApproveLicensePurchaseInput } from '../../workflows/provision-resource-account/definitions';

export interface LicensePurchaseRouteOptions {
  tenantId: string;
  /** How long to wait for a worker to take the approval, in ms. */
  workerTimeoutMs: number;
}

const MESSAGE = 'approved: the worker buys through Partner Center now and the wait goes on until the seats are free; the status shows the purchase';

async function approve(client: Client, workflowId: string, what: string, update: typeof approveLicensePurchaseUpdate, input: ApproveLicensePurchaseInput, key: string | undefined, timeoutMs: number) {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return await client.withDeadline(Date.now() + timeoutMs, () => handle.executeUpdate(update, { args: [input], updateId: key ?? randomUUID() }));
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new ApiError(409, 'invalid_state', `purchase refused: ${err.cause?.message ?? err.message}`);
    if (err instanceof WorkflowNotFoundError) {
      const found = await handle.describe().catch(() => undefined);
      if (!found) throw new ApiError(404, 'not_found', `no ${what} ${workflowId.split(':').pop() ?? ''}`);
      throw new ApiError(409, 'invalid_state', `purchase refused: the ${what} has finished (${found.status.name}); it waits for no licenses`);
    }
    if (timedOut(err)) throw workerUnavailable(timeoutMs, 'take the purchase approval');
    throw err;
  }
}

const licensePurchaseRoutes: FastifyPluginAsyncTypebox<LicensePurchaseRouteOptions> = async (fastify, options) => {
  const tags = ['license purchase'];
  const description =
    'Only while it waits for licenses and the worker buys through Partner Center (DIALTONE_LICENSE_PROCUREMENT=partner-center). ' +
    'units must be at least the shortfall and within the ceilings; a refusal (409) says which and how to change it. Taken at most once per Idempotency-Key.';

  fastify.post(
    '/resource-accounts/:id/license-purchase',
    {
      schema: {
        tags,
        summary: 'Approve buying licenses for a run waiting for them',
        description,
        security: BEARER_SECURITY,
        params: ResourceAccountParams,
        headers: LicensePurchaseHeaders,
        body: LicensePurchaseBody,
        response: { 200: LicensePurchaseResponse, ...errorResponses(400, 404, 409, 414, ...V1_ERRORS) },
      },
    },
    async (request) => {
      const id = resourceAccountId(request.params.id);
      const workflowId = resourceAccountWorkflowId(options.tenantId, id);
      const output = await approve(fastify.temporal, workflowId, 'run of', approveLicensePurchaseUpdate,
        { ...request.body, by: request.body.by ?? request.apiCaller }, request.headers['idempotency-key'], options.workerTimeoutMs);
      return { id, workflowId, accepted: true as const, units: output.units, statusUrl: statusUrl(id), message: MESSAGE };
    },
  );

  fastify.post(
    '/batches/:id/license-purchase',
    {
      schema: {
        tags,
        summary: "Approve buying a batch's whole license shortfall",
        description: `${description} The batch's purchase counts once against the per-batch ceiling (at most ${BATCH_ID_MAX_LENGTH}-character batch ids).`,
        security: BEARER_SECURITY,
        params: BatchParams,
        headers: LicensePurchaseHeaders,
        body: LicensePurchaseBody,
        response: { 200: LicensePurchaseResponse, ...errorResponses(400, 404, 409, 414, ...V1_ERRORS) },
      },
    },
    async (request) => {
      const workflowId = batchWorkflowId(options.tenantId, request.params.id);
      const output = await approve(fastify.temporal, workflowId, 'batch', approveBatchLicensePurchaseUpdate,
        { ...request.body, by: request.body.by ?? request.apiCaller }, request.headers['idempotency-key'], options.workerTimeoutMs);
      return { id: request.params.id, workflowId, accepted: true as const, units: output.units, statusUrl: `/v1/batches/${encodeURIComponent(request.params.id)}`, message: MESSAGE };
    },
  );
};

export default licensePurchaseRoutes;
