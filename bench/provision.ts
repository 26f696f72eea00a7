/**
 * bench:provision — provisions BENCH_ACCOUNTS resource accounts (default 50) at once through the
 * whole product path (real Temporal dev server, worker, activities over HTTPS to the tenant
 * simulator on its fast profile) and prints throughput, per-run latency, Graph/Teams calls per
 * account and workflow history size. Figures only; nothing here asserts a time.
 */
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { LOCAL_TENANT_ID } from '../lib/local-defaults';
import { TEMPORAL_CLI, DEFAULT_SIMULATOR_TLS_DIR } from '../lib/paths';
import { buildSimulator, simulatorUrl } from '../simulator/app';
import { ensureSimulatorTls } from '../simulator/tls';
import { simulatorTenant } from '../worker/config';
import { createDialtoneWorker, createTenantActivities } from '../worker/worker';
import type { provisionResourceAccount } from '../workflows';
import { ALL_SEARCH_ATTRIBUTES, PROVISION_WORKFLOW_TYPE, resourceAccountWorkflowId } from '../workflows/provision-resource-account/definitions';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const accounts = Number(process.env.BENCH_ACCOUNTS ?? 50);
  if (!Number.isInteger(accounts) || accounts < 1 || accounts > 5000) throw new Error('BENCH_ACCOUNTS must be a whole number from 1 to 5000');
  Runtime.install({ logger: new DefaultLogger('WARN') });

  const tls = await ensureSimulatorTls(DEFAULT_SIMULATOR_TLS_DIR);
  const numbers = Array.from({ length: accounts }, (_, i) => `+1206555${String(1000 + i).padStart(4, '0')}`);
  const simulator = await buildSimulator({
    tls: { certPath: tls.certPath, keyPath: tls.keyPath },
    seed: 7,
    licenses: [{ skuPartNumber: 'PHONESYSTEM_VIRTUALUSER', units: accounts }],
    numbers: numbers.map((telephoneNumber) => ({ telephoneNumber, isoCountryCode: 'US', city: 'Seattle' })),
    users: [],
  });
  await simulator.listen({ host: '127.0.0.1', port: 0 });
  const url = simulatorUrl(simulator);
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: TEMPORAL_CLI }, searchAttributes: ALL_SEARCH_ATTRIBUTES },
  });
  const taskQueue = `bench-${randomUUID()}`;
  const worker = await createDialtoneWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    activities: createTenantActivities(simulatorTenant(url), { initialIntervalMs: 100, maxIntervalMs: 1_000, budgetMs: 30_000 }),
  });

  try {
    await worker.runUntil(async () => {
      const started = performance.now();
      const latencies = await Promise.all(
        numbers.map(async (phoneNumber, i) => {
          const upn = `bench-${i}-${randomUUID().slice(0, 6)}@contoso.onmicrosoft.com`;
          const t0 = performance.now();
          const handle = await env.client.workflow.start<typeof provisionResourceAccount>(PROVISION_WORKFLOW_TYPE, {
            taskQueue,
            workflowId: resourceAccountWorkflowId(LOCAL_TENANT_ID, upn),
            args: [{ tenantId: LOCAL_TENANT_ID, upn, displayName: `Bench ${i}`, kind: 'autoAttendant', usageLocation: 'US', phoneNumber, phoneNumberType: 'callingPlan' }],
          });
          const result = await handle.result();
          if (result.state !== 'completed') throw new Error(`${upn} ended ${result.state}`);
          const { events } = await env.client.workflowService.getWorkflowExecutionHistory({
            namespace: env.namespace ?? 'default',
            execution: { workflowId: handle.workflowId },
          }).then((r) => ({ events: r.history?.events?.length ?? 0 }));
          return { ms: performance.now() - t0, events };
        }),
      );
      const totalMs = performance.now() - started;
      const sorted = latencies.map((l) => l.ms).sort((a, b) => a - b);
      const requests = (await simulator.inject({ method: 'GET', url: '/_simulator/requests' })).json<{ total: number }>();
      const events = latencies.reduce((sum, l) => sum + l.events, 0) / latencies.length;
      console.log(`bench:provision — ${accounts} accounts at once, simulator profile fast, one worker`);
      console.log(`  wall time            ${(totalMs / 1000).toFixed(2)} s`);
      console.log(`  throughput           ${((accounts / totalMs) * 60_000).toFixed(1)} accounts/min`);
      console.log(`  run latency          p50 ${(percentile(sorted, 50) / 1000).toFixed(2)} s, p95 ${(percentile(sorted, 95) / 1000).toFixed(2)} s, max ${((sorted.at(-1) ?? 0) / 1000).toFixed(2)} s`);
      console.log(`  tenant calls         ${requests.total} (${(requests.total / accounts).toFixed(1)} per account)`);
      console.log(`  history per run      ${events.toFixed(1)} events`);
    });
  } finally {
    await env.teardown();
    await simulator.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
