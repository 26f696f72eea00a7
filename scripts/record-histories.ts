/**
 * `npm run record:histories`: runs every scenario of test/workflows/scenarios.ts on a fresh Temporal
 * dev server and writes each run's history to test/workflows/histories/<scenario>.json, with an index of
 * the state each ends in. `npm run record:histories -- <scenario>…` records only those (a new scenario,
 * without re-recording the histories of runs already in flight). The replay test replays them against today's workflow code. Record again only
 * when a change is meant to be incompatible (see "Changing the workflow" in the README).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { REPO_ROOT, TEMPORAL_CLI } from '../lib/paths';
import { SCENARIOS } from '../test/workflows/scenarios';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/provision-resource-account/definitions';

const DIR = path.join(REPO_ROOT, 'test', 'workflows', 'histories');

/** Worker identities and sticky queue names (pid@host) and stack traces (file paths) say nothing a replay needs: left out. */
function scrub(value: unknown): unknown {
  if (typeof value === 'string' && /^\d+@/.test(value)) return 'recorder';
  if (Array.isArray(value)) return value.map(scrub);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key, key === 'identity' ? 'recorder' : key === 'stackTrace' ? '' : scrub(inner)]),
  );
}

async function main(): Promise<void> {
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: TEMPORAL_CLI }, searchAttributes: ALL_SEARCH_ATTRIBUTES },
  });
  try {
    mkdirSync(DIR, { recursive: true });
    const only = process.argv.slice(2);
    const unknown = only.filter((name) => !SCENARIOS.some((s) => s.name === name));
    if (unknown.length > 0) throw new Error(`no scenario named ${unknown.join(', ')}; the scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    const indexFile = path.join(DIR, 'index.json');
    const index: Record<string, string> = only.length > 0 && existsSync(indexFile) ? (JSON.parse(readFileSync(indexFile, 'utf8')) as Record<string, string>) : {};
    for (const scenario of SCENARIOS.filter((s) => only.length === 0 || only.includes(s.name))) {
      const result = await scenario.run({ client: env.client, nativeConnection: env.nativeConnection, namespace: env.namespace ?? 'default' });
      const { workflowId } = result.handle;
      const { runId } = await result.handle.describe();
      // Temporal's own JSON history format (what the CLI and the Web UI's download write).
      const json = execFileSync(TEMPORAL_CLI, [
        'workflow', 'show', '--address', env.address, '--namespace', env.namespace ?? 'default',
        '--workflow-id', workflowId, '--run-id', runId, '--output', 'json',
      ], { encoding: 'utf8' });
      const history = scrub(JSON.parse(json)) as { events?: unknown[] };
      writeFileSync(path.join(DIR, `${scenario.name}.json`), `${JSON.stringify(history, null, 1)}\n`);
      index[scenario.name] = result.status.state;
      console.log(`recorded ${scenario.name}: ${result.status.state} (${history.events?.length ?? 0} events)`);
    }
    writeFileSync(indexFile, `${JSON.stringify(index, null, 2)}\n`);
  } finally {
    await env.teardown();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
