/**
 * A limit on each test file's process, so one hung file fails alone instead of holding the whole run
 * until CI's own timeout (which reports nothing). `node --test` runs every file in a child process and
 * has no per-file limit: `--test-timeout` ends a test, not an `after` hook that waits forever, nor a
 * process kept alive by a worker that never stops. Linux only (it reads /proc); elsewhere it watches
 * nothing and says so.
 */
import { readFileSync, readdirSync } from 'node:fs';

interface ProcessEntry {
  pid: number;
  ppid: number;
  cmdline: string[];
}

function readProcesses(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the fields after it start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      entries.push({ pid: Number(name), ppid: Number(fields[1]), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return entries;
}

/** `root` and every process below it, deepest first. */
function descendants(root: number, processes: ProcessEntry[]): number[] {
  const children = new Map<number, number[]>();
  for (const p of processes) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const found: number[] = [];
  const visit = (pid: number) => {
    for (const child of children.get(pid) ?? []) visit(child);
    found.push(pid);
  };
  visit(root);
  return found;
}

export interface WatchdogOptions {
  /** The `node --test` process whose file processes are watched. */
  runnerPid: number;
  /** The test files as given to `node --test`; a child naming one of them is that file's process. */
  files: string[];
  fileTimeoutMs: number;
  checkEveryMs?: number;
  report: (line: string) => void;
}

/** Starts watching; returns the function that stops it, and the files it had to kill. */
export function watchTestFiles(options: WatchdogOptions): { stop: () => void; killed: string[] } {
  const killed: string[] = [];
  if (process.platform !== 'linux') {
    options.report(`[run-tests] no per-file limit on ${process.platform} (it reads /proc): a hung test file holds the run`);
    return { stop: () => undefined, killed };
  }
  const firstSeen = new Map<number, number>();
  const check = () => {
    const processes = readProcesses();
    const now = Date.now();
    for (const child of processes.filter((p) => p.ppid === options.runnerPid)) {
      const file = options.files.find((f) => child.cmdline.some((arg) => arg === f || arg.endsWith(`/${f}`)));
      if (!file) continue;
      const since = firstSeen.get(child.pid) ?? now;
      firstSeen.set(child.pid, since);
      if (now - since < options.fileTimeoutMs) continue;
      const tree = descendants(child.pid, processes);
      options.report(`[run-tests] ${file} still running after ${Math.round(options.fileTimeoutMs / 1000)} s ` +
        `(DIALTONE_TEST_FILE_TIMEOUT_MS): killed with the ${tree.length - 1} processes it started; it counts as failed`);
      for (const pid of tree) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      killed.push(file);
      firstSeen.delete(child.pid);
    }
  };
  const timer = setInterval(check, options.checkEveryMs ?? 5_000);
  timer.unref();
  return { stop: () => clearInterval(timer), killed };
}
