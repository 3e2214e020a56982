// HeraldError's field parsing and the backoff schedule, without a server.
import {test} from 'node:test';
import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {HeraldError} from '../dist';
import {backoffMs, retryable, retryPolicy} from '../dist/retry';

function error(code: number, message: string, retryDelayMs?: number): HeraldError {
  return new HeraldError({code, message, method: 'Trigger', retryDelayMs});
}

test('the field is the message\'s leading field path, for request errors only', () => {
  assert.equal(error(grpc.status.INVALID_ARGUMENT, 'recipients[1].user.properties_json: must be an object').field,
      'recipients[1].user.properties_json');
  assert.equal(error(grpc.status.INVALID_ARGUMENT, 'preferences_json.workflows.new-comment.channel_types.sms: x').field,
      'preferences_json.workflows.new-comment.channel_types.sms');
  assert.equal(error(grpc.status.INVALID_ARGUMENT, 'workflow: unknown workflow \'a: b\'').field, 'workflow');
  assert.equal(error(grpc.status.FAILED_PRECONDITION, 'idempotency_key: used with another request').field,
      'idempotency_key');
  assert.equal(error(grpc.status.INVALID_ARGUMENT, 'no field here').field, undefined);
  assert.equal(error(grpc.status.UNAVAILABLE, 'redis: connection refused').field, undefined);
  assert.equal(error(grpc.status.UNAUTHENTICATED, 'x').codeName, 'UNAUTHENTICATED');
});

test('backoff grows by the multiplier, is capped, jitters within half of a step, and yields to RetryInfo', () => {
  const policy = retryPolicy(5, {initialMs: 100, maxMs: 1000, multiplier: 2});
  const unavailable = error(grpc.status.UNAVAILABLE, 'down');
  assert.deepEqual([0, 1, 2, 3, 4].map((n) => backoffMs(policy, n, unavailable, () => 1)), [100, 200, 400, 800, 1000]);
  assert.deepEqual([0, 1, 2, 3, 4].map((n) => backoffMs(policy, n, unavailable, () => 0)), [50, 100, 200, 400, 500]);
  assert.equal(backoffMs(policy, 0, error(grpc.status.RESOURCE_EXHAUSTED, 'slow down', 1500), () => 0), 1500);
  assert.throws(() => retryPolicy(-1, undefined), /retries/);
  assert.throws(() => retryPolicy(1, {initialMs: 10, maxMs: 5}), /maxMs/);
});

test('what is retried: refusals always, lost answers only when repeating is safe', () => {
  for (const idempotent of [true, false]) {
    assert.equal(retryable(error(grpc.status.RESOURCE_EXHAUSTED, ''), idempotent), true);
    assert.equal(retryable(error(grpc.status.UNAVAILABLE, ''), idempotent), idempotent);
    assert.equal(retryable(error(grpc.status.DEADLINE_EXCEEDED, ''), idempotent), idempotent);
    for (const code of [grpc.status.INVALID_ARGUMENT, grpc.status.UNAUTHENTICATED, grpc.status.INTERNAL]) {
      assert.equal(retryable(error(code, ''), idempotent), false);
    }
  }
});
