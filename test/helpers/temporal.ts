/**
 * A real Temporal server for tests. `npm test` starts one dev server for the whole run and passes
 * its address in DIALTONE_TEST_TEMPORAL_ADDRESS; a test file run on its own starts its own. Both use
 * the CLI binary installed by scripts/install-temporal.sh (never a download at run time).
 */
import { existsSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { dialtoneDataConverter } from '../../lib/payload-codec';
import { TEMPORAL_CLI, TEMPORAL_TEST_SERVER } from '../../lib/paths';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/provision-resource-account/definitions';

// Tests read assertions, not worker chatter: bundle reports, and the expected activity failures
// (the time-skipping test alone fails one activity some 300 times), so errors only.
// Every test process that talks to Temporal imports this module before it creates a worker.
Runtime.install({ logger: new DefaultLogger('ERROR') });

export interface TestTemporal {
  address: string;
  namespace: string;
  client: Client;
  nativeConnection: NativeConnection;
  teardown(): Promise<void>;
}

function requireBinary(path: string): string {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run "npm run setup:temporal" (npm test does it for you)`);
  }
  return path;
}

export async function startTestTemporal(): Promise<TestTemporal> {
  const shared = process.env.DIALTONE_TEST_TEMPORAL_ADDRESS;
  if (shared) {
    const connection = await Connection.connect({ address: shared });
    const nativeConnection = await NativeConnection.connect({ address: shared });
    return {
      address: shared,
      namespace: 'default',
      client: new Client({ connection, namespace: 'default', dataConverter: dialtoneDataConverter }),
      nativeConnection,
      async teardown() {
        await nativeConnection.close();
        await connection.close();
      },
    };
  }
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: requireBinary(TEMPORAL_CLI) },
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
    },
    client: { dataConverter: dialtoneDataConverter },
  });
  return {
    address: env.address,
    namespace: env.namespace ?? 'default',
    client: env.client,
    nativeConnection: env.nativeConnection,
    teardown: () => env.teardown(),
  };
}

/** The Java time-skipping test server, for waits of hours or days. */
export async function startTimeSkippingTemporal(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: requireBinary(TEMPORAL_TEST_SERVER) } },
  });
  // The test server has no --search-attribute flag; the workflow upserts ours, so register them.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(ALL_SEARCH_ATTRIBUTES.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type) ?? 0])),
  });
  return env;
}
