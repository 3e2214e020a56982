export interface BackoffOptions {
  /** The first retry's ceiling (ms). */
  initialDelayMs?: number;
  /** No wait is longer than this (ms). */
  maxDelayMs?: number;
  /** [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
}

/**
 * Exponential backoff with "equal jitter": the ceiling doubles with each
 * failed attempt (up to maxDelayMs) and the wait is uniform in
 * [ceiling/2, ceiling). Half fixed keeps a floor under each wait; half random
 * spreads ten thousand browsers that lost the same gateway so they do not
 * reconnect in one burst.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialDelayMs ?? 1000;
  const max = options.maxDelayMs ?? 30000;
  const random = options.random ?? Math.random;
  const ceiling = Math.min(max, initial * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
