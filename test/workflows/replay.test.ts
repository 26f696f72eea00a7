/**
 * Replays recorded histories (one per way a run ends, test/workflows/histories/) against today's
 * workflow code: a change that would break runs already in flight (a reordered or removed command, a
 * new activity on an old path) fails here with a non-determinism error. Rules: README, "Changing the
 * workflow".
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Resource } from '@opentelemetry/resources';
import { Worker } from '@temporalio/worker';
import { WorkerMetrics } from '../../worker/metrics';
import { tracingReplayOptions } from '../../worker/tracing';
import { TERMINAL_STATES } from '../../workflows/provision-resource-account/definitions';

const DIR = path.join(__dirname, 'histories');

interface RecordedHistory {
  events?: Array<{ workflowExecutionStartedEventAttributes?: { workflowId?: string } }>;
}
const index = JSON.parse(readFileSync(path.join(DIR, 'index.json'), 'utf8')) as Record<string, string>;
const files = readdirSync(DIR).filter((name) => name.endsWith('.json') && name !== 'index.json').sort();

describe('recorded histories replay against the current workflow code', () => {
  test('there is a recorded history for every terminal state, and an index entry for every history', () => {
    assert.deepEqual([...new Set(Object.values(index))].sort(), [...TERMINAL_STATES].sort());
    assert.deepEqual(files.map((f) => f.replace(/\.json$/, '')).sort(), Object.keys(index).sort());
  });

  for (const file of files) {
    test(`${file} (ended ${index[file.replace(/\.json$/, '')]})`, async () => {
      const history = JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as RecordedHistory;
      // The run's own workflow id: commands derived from it (a notification's child id) must match the history.
      const workflowId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId ?? `replay-${file}`;
      const metrics = new WorkerMetrics({ defaultMetrics: false });
      await Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows'), sinks: metrics.sinks() }, history, workflowId);
      // The business metrics' sinks are not called on replay, so a run replayed after a restart is not counted again.
      const text = await metrics.registry.metrics();
      assert.match(text, /^dialtone_runs_started_total 0$/m);
      assert.doesNotMatch(text, /^dialtone_run_duration_seconds_count/m);
    });
  }

  // Tracing may be turned on while runs are in flight: its workflow interceptors add spans and
  // headers, never commands, so every history recorded without them replays with them.
  test('every history replays with the tracing interceptors on', async () => {
    const telemetry = { resource: Resource.empty(), spanProcessor: new NoopSpanProcessor(), flush: async () => undefined, shutdown: async () => undefined };
    const histories = files.map((file) => {
      const history = JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as RecordedHistory;
      return { workflowId: history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId ?? `replay-traced-${file}`, history };
    });
    const tracing = await tracingReplayOptions(telemetry);
    const sinks = { ...tracing.sinks, ...new WorkerMetrics({ defaultMetrics: false }).sinks() };
    const results = Worker.runReplayHistories({ workflowsPath: require.resolve('../../workflows'), ...tracing, sinks }, histories);
    let replayed = 0;
    for await (const result of results) {
      assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
      replayed += 1;
    }
    assert.equal(replayed, files.length);
  });
});
