/**
 * Seeded pseudo-random numbers (mulberry32). Faults and jitter draw from it so that a seed reproduces
 * a run's sequence of decisions; identifiers use crypto randomness instead, as they need no replay.
 */
import type { Delay } from './options';

export type Random = () => number;

export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws a delay in ms (before time scaling). */
export function drawDelay(delay: Delay, random: Random): number {
  if (typeof delay === 'number') return delay;
  return delay.minMs + (delay.maxMs - delay.minMs) * random();
}
