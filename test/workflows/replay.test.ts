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
import { Worker } from '@temporalio/worker';
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
      await Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows') }, history, workflowId);
    });
  }
});
