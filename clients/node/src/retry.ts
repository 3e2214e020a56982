// When a failed attempt is tried again, and after how long.
import * as grpc from '@grpc/grpc-js';
import type {HeraldError} from './errors';

export interface BackoffOptions {
  // The wait before the first retry, in ms (default 100).
  initialMs?: number;
  // The longest wait between two attempts, in ms (default 5000); a delay
  // Herald asks for (RetryInfo) is honoured even when longer.
  maxMs?: number;
  // Each retry waits this many times longer than the one before (default 2).
  multiplier?: number;
}

export interface RetryPolicy {
  retries: number;
  initialMs: number;
  maxMs: number;
  multiplier: number;
}

export function retryPolicy(retries: number | undefined, backoff: BackoffOptions | undefined): RetryPolicy {
  const policy: RetryPolicy = {
    retries: retries ?? 3,
    initialMs: backoff?.initialMs ?? 100,
    maxMs: backoff?.maxMs ?? 5000,
    multiplier: backoff?.multiplier ?? 2,
  };
  if (!Number.isInteger(policy.retries) || policy.retries < 0) throw new RangeError('retries: must be an integer >= 0');
  if (!(policy.initialMs >= 0)) throw new RangeError('backoff.initialMs: must be >= 0');
  if (!(policy.maxMs >= policy.initialMs)) throw new RangeError('backoff.maxMs: must be >= backoff.initialMs');
  if (!(policy.multiplier >= 1)) throw new RangeError('backoff.multiplier: must be >= 1');
  return policy;
}

// Whether a call that failed with `error` may be sent again. `idempotent`:
// sending it twice has the effect of sending it once (reads, the setters,
// Cancel, and Trigger, which always carries an idempotency key). A call
// that hit its deadline may have been carried out, so only those are
// retried then; RESOURCE_EXHAUSTED (a rate limit refused it, nothing was
// done) is retried for every call, UNAVAILABLE (no connection, or a replica
// draining, which may have accepted it) only for idempotent ones.
export function retryable(error: HeraldError, idempotent: boolean): boolean {
  switch (error.code) {
    case grpc.status.RESOURCE_EXHAUSTED:
      return true;
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return idempotent;
    default:
      return false;
  }
}

// The wait before retry number `retry` (0 = the first): Herald's RetryInfo
// delay when it sent one, else exponential backoff with jitter (between
// half and all of the step, so that callers refused together spread out).
export function backoffMs(policy: RetryPolicy, retry: number, error: HeraldError, random: () => number = Math.random): number {
  if (error.retryDelayMs !== undefined) return error.retryDelayMs;
  const step = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.multiplier, retry));
  return step / 2 + (random() * step) / 2;
}
