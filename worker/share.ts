/**
 * Workers share the tenant's budget: each takes 1/N of it, N being the workers that poll the task queue
 * for activities, as Temporal's DescribeTaskQueue lists them (each worker's identity, with the time it
 * last polled). Looked at every `intervalMs`, so a worker that joins or leaves shifts the shares within
 * about that long; a worker that cannot ask keeps its last share.
 */
import type { NativeConnection } from '@temporalio/worker';
import type { Pacer } from '../activities/pacing';

const ACTIVITY_TASK_QUEUE = 2; // temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY

/** Workers whose last poll is older than this are taken as gone. */
const RECENT_POLL_MS = 2 * 60_000;

export async function countWorkers(connection: NativeConnection, namespace: string, taskQueue: string, now = Date.now()): Promise<number> {
  const answer = await connection.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: ACTIVITY_TASK_QUEUE,
  });
  const identities = new Set(
    (answer.pollers ?? [])
      .filter((poller) => {
        const seconds = Number(poller.lastAccessTime?.seconds ?? 0);
        return seconds === 0 || now - seconds * 1000 < RECENT_POLL_MS;
      })
      .map((poller) => poller.identity ?? ''),
  );
  return Math.max(1, identities.size);
}

/** Keeps `pacer` at 1/N of the budget while the worker runs; returns a function that stops watching. */
export function shareBudgetAmongWorkers(
  connection: NativeConnection,
  namespace: string,
  taskQueue: string,
  pacer: Pacer,
  intervalMs = 30_000,
  onChange: (workers: number) => void = () => undefined,
): () => void {
  const look = async () => {
    try {
      const workers = await countWorkers(connection, namespace, taskQueue);
      if (Math.abs(pacer.share - 1 / workers) > 1e-9) {
        pacer.setShare(1 / workers);
        onChange(workers);
      }
    } catch {
      // Temporal unreachable: keep the last share; the worker itself reports the connection problem.
    }
  };
  const timer = setInterval(() => void look(), intervalMs);
  timer.unref();
  void look();
  return () => clearInterval(timer);
}
