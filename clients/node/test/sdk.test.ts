// @herald/node against a real Herald (redis-server + `herald all`, see
// support/herald_server.ts): every call goes over gRPC to the real API.
import {after, before, describe, test} from 'node:test';
import * as assert from 'node:assert/strict';
import {randomUUID} from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {Herald, HeraldError} from '../dist';  // the built package, as a service uses it
import * as fs from 'node:fs';
import {eventually, makeServerCertificate, TestHerald} from './support/herald_server';

const kTimeout = {timeout: 30000};

let server: TestHerald;
let herald: Herald;

before(async () => {
  server = await TestHerald.start();
  herald = new Herald({address: server.address, apiKey: server.apiKey, defaultDeadlineMs: 5000});
}, {timeout: 60000});

after(async () => {
  herald?.close();
  await server?.stop();
}, {timeout: 60000});

function uniqueUser(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

// The user's main feed, through the API's ListFeed.
async function feedOf(client: Herald, userId: string) {
  return client.call('ListFeed', {userId, pageSize: 100});
}

// Waits until the user's feed holds `count` items and returns them.
async function waitForFeed(client: Herald, userId: string, count: number) {
  return eventually(`${userId}'s feed has ${count} item(s)`, 20000, async () => {
    const feed = await feedOf(client, userId);
    return feed.items.length >= count ? feed.items : undefined;
  });
}

// Records the requests of the calls to `method` and lets a test rewrite
// their answers (e.g. drop one as a deadline).
function recorder(method: string, rewrite?: (call: number, status: grpc.StatusObject) => grpc.StatusObject) {
  const sent: any[] = [];
  let calls = 0;
  const interceptor: grpc.Interceptor = (options, nextCall) => {
    if (!options.method_definition.path.endsWith('/' + method)) return new grpc.InterceptingCall(nextCall(options));
    const call = ++calls;
    return new grpc.InterceptingCall(nextCall(options), {
      sendMessage(message, next) {
        sent.push(message);
        next(message);
      },
      start(metadata, listener, next) {
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            nextStatus(rewrite ? rewrite(call, status) : status);
          },
        });
      },
    });
  };
  return {sent, interceptor};
}

describe('users', () => {
  test('identify stores the profile and custom properties', kTimeout, async () => {
    const id = uniqueUser('ada');
    const user = await herald.users.identify(id, {name: 'Ada', email: 'ada@example.com', plan: 'pro', seats: 3});
    assert.equal(user.id, id);
    assert.equal(user.name, 'Ada');
    assert.equal(user.email, 'ada@example.com');
    assert.deepEqual(user.properties, {plan: 'pro', seats: 3});
    assert.ok(user.createdAtMs > 0);
    const read = await herald.users.get(id);
    assert.equal(read.email, 'ada@example.com');
    assert.deepEqual(read.properties, {plan: 'pro', seats: 3});
  });

  test('setChannelData stores the JSON data for the channel', kTimeout, async () => {
    const id = uniqueUser('bo');
    await herald.users.identify(id, {name: 'Bo'});
    const stored = await herald.users.setChannelData(id, 'apns', {tokens: ['tok-1', 'tok-2']});
    assert.deepEqual(stored, {userId: id, channel: 'apns', data: {tokens: ['tok-1', 'tok-2']}});
    const read = await herald.call('GetChannelData', {userId: id, channel: 'apns'});
    assert.deepEqual(JSON.parse(read.dataJson), {tokens: ['tok-1', 'tok-2']});
  });

  test('preferences are stored per user and per tenant, and an opt-out stops the workflow', kTimeout, async () => {
    const id = uniqueUser('cy');
    await herald.users.identify(id, {name: 'Cy'});
    const optOut = {workflows: {notify: {channel_types: {in_app_feed: false}}}};
    // Answered as Herald normalized it: every section present.
    const normalized = {channel_types: {}, categories: {}, ...optOut};
    const set = await herald.users.setPreferences(id, optOut);
    assert.equal(set.userId, id);
    assert.deepEqual(set.preferences, normalized);
    assert.deepEqual((await herald.users.getPreferences(id)).preferences, normalized);
    // The tenant's set is another one.
    assert.deepEqual((await herald.users.getPreferences(id, {tenant: 'acme'})).preferences, {});
    const tenantSet = {channel_types: {email: false}};
    await herald.users.setPreferences(id, tenantSet, {tenant: 'acme'});
    const read = await herald.users.getPreferences(id, {tenant: 'acme'});
    assert.equal(read.tenant, 'acme');
    assert.deepEqual(read.preferences, {workflows: {}, categories: {}, ...tenantSet});
    await assert.rejects(herald.users.setPreferences(id, {channel_types: {email: 'no'}}),
        (error: unknown) => error instanceof HeraldError && error.codeName === 'INVALID_ARGUMENT' &&
            error.field === 'preferences_json.channel_types.email');

    await herald.workflows.trigger('notify', {recipients: id, data: {text: 'hidden'}});
    const message = await eventually('the opted-out message is recorded', 20000, async () => {
      const listed = await herald.call('ListMessages', {recipient: id, workflow: 'notify'});
      return listed.messages[0];
    });
    assert.equal(message.status, 'not_sent');
    assert.equal(message.reason, 'preference');
    assert.equal((await feedOf(herald, id)).items.length, 0);
  });
});

describe('workflows', () => {
  test('trigger with an inline user delivers the in-app item', kTimeout, async () => {
    const id = uniqueUser('dee');
    const result = await herald.workflows.trigger('notify', {
      recipients: [{id, name: 'Dee', email: 'dee@example.com', team: 'core'}],
      actor: 'system',
      data: {text: 'Build 42 passed'},
    });
    assert.equal(result.duplicate, false);
    assert.equal(result.runs.length, 1);
    assert.equal(result.runs[0].recipient, id);
    assert.notEqual(result.runs[0].workflowRunId, '');
    assert.match(result.idempotencyKey, /^[0-9a-f-]{36}$/);  // generated
    const items = await waitForFeed(herald, id, 1);
    assert.equal(items.length, 1);
    assert.equal(items[0].workflow, 'notify');
    assert.equal(items[0].blocks[0].markdown, 'Build 42 passed for Dee');
    assert.deepEqual(JSON.parse(items[0].dataJson), {text: 'Build 42 passed'});
    // The inline user was identified with the trigger.
    assert.deepEqual((await herald.users.get(id)).properties, {team: 'core'});
  });

  test('the same idempotency key is answered duplicate with the same runs', kTimeout, async () => {
    const id = uniqueUser('eve');
    await herald.users.identify(id, {name: 'Eve'});
    const first = await herald.workflows.trigger('notify', {recipients: [id], data: {text: 'once'}, idempotencyKey: 'k-' + id});
    const second = await herald.workflows.trigger('notify', {recipients: [id], data: {text: 'once'}, idempotencyKey: 'k-' + id});
    assert.equal(second.duplicate, true);
    assert.deepEqual(second.runs, first.runs);
    await waitForFeed(herald, id, 1);
  });

  test('cancel stops the pending run of its key only', kTimeout, async () => {
    const id = uniqueUser('fay');
    await herald.users.identify(id, {name: 'Fay'});
    await herald.workflows.trigger('delayed', {recipients: id, data: {text: 'cancelled'}, cancellationKey: 'order-1'});
    await herald.workflows.trigger('delayed', {recipients: id, data: {text: 'kept'}, cancellationKey: 'order-2'});
    const cancelled = await herald.workflows.cancel('delayed', 'order-1', {recipients: [id]});
    // 1 when the run already waited in its delay; 0 when it was still on
    // its way (then it is stopped when it arrives).
    assert.ok(cancelled.cancelledRuns === 0 || cancelled.cancelledRuns === 1, String(cancelled.cancelledRuns));
    // Same user, same delay, triggered first: the cancelled item would
    // have landed no later than the kept one.
    const items = await waitForFeed(herald, id, 1);
    assert.deepEqual(items.map((item) => item.blocks[0].markdown), ['delayed kept']);
  });

  test('a bad request is a HeraldError naming the field', kTimeout, async () => {
    const bad = async (promise: Promise<unknown>, field: string) => {
      await assert.rejects(promise, (error: unknown) => {
        assert.ok(error instanceof HeraldError);
        assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
        assert.equal(error.codeName, 'INVALID_ARGUMENT');
        assert.equal(error.field, field, error.message);
        assert.ok(error.message.startsWith(field + ': '), error.message);
        assert.equal(error.attempts, 1);  // never retried
        return true;
      });
    };
    await bad(herald.workflows.trigger('no-such-workflow', {recipients: 'x'}), 'workflow');
    await bad(herald.workflows.trigger('notify', {recipients: []}), 'recipients');
    await bad(herald.workflows.trigger('notify', {recipients: ['ok', {id: ''}]}), 'recipients[1].user.id');
    await bad(herald.workflows.trigger('notify', {recipients: 'x', data: [1, 2] as any}), 'data_json');
    await bad(herald.workflows.cancel('notify', ''), 'cancellation_key');
  });

  test('a wrong API key fails UNAUTHENTICATED, without retries', kTimeout, async () => {
    const wrong = new Herald({address: server.address, apiKey: 'hk_wrong', retries: 3});
    try {
      await assert.rejects(wrong.users.identify(uniqueUser('x')), (error: unknown) => {
        assert.ok(error instanceof HeraldError);
        assert.equal(error.codeName, 'UNAUTHENTICATED');
        assert.equal(error.attempts, 1);
        assert.ok(!error.message.includes('hk_wrong'), error.message);
        return true;
      });
    } finally {
      wrong.close();
    }
  });
});

describe('retries', () => {
  test('a trigger whose answer was lost is retried with the same key: one run', kTimeout, async () => {
    const id = uniqueUser('gus');
    await herald.users.identify(id, {name: 'Gus'});
    // Herald accepts the first attempt; its answer is turned into a
    // deadline on the way back, as when the network lost it.
    const {sent, interceptor} = recorder('Trigger', (call, status) =>
        call === 1 ? {...status, code: grpc.status.DEADLINE_EXCEEDED, details: 'Deadline exceeded'} : status);
    const client = new Herald({address: server.address, apiKey: server.apiKey, interceptors: [interceptor],
      backoff: {initialMs: 10}});
    try {
      const result = await client.workflows.trigger('notify', {recipients: id, data: {text: 'exactly once'}});
      assert.equal(sent.length, 2);
      assert.ok(sent[0].idempotencyKey.length > 0);
      assert.equal(sent[1].idempotencyKey, sent[0].idempotencyKey);
      assert.equal(result.idempotencyKey, sent[0].idempotencyKey);
      assert.equal(result.duplicate, true, 'the retry found the first attempt');
      const items = await waitForFeed(client, id, 1);
      assert.equal(items.length, 1);
      // Nothing more is on its way: the runs the retry named are the first attempt's.
      const messages = await client.call('ListMessages', {recipient: id});
      assert.equal(messages.messages.length, 1);
    } finally {
      client.close();
    }
  });

  test('a frozen Herald: attempts hit their deadline, the retries reuse the key, one run', kTimeout, async () => {
    const id = uniqueUser('hal');
    await herald.users.identify(id, {name: 'Hal'});
    const {sent, interceptor} = recorder('Trigger');
    const client = new Herald({address: server.address, apiKey: server.apiKey, interceptors: [interceptor],
      defaultDeadlineMs: 300, retries: 20, backoff: {initialMs: 100, maxMs: 400}});  // room for a loaded machine
    const pid = server.herald!.child.pid!;
    process.kill(pid, 'SIGSTOP');
    let resumed = false;
    const resume = () => {
      if (!resumed) process.kill(pid, 'SIGCONT');
      resumed = true;
    };
    // Resumed once two attempts have timed out (each waits 300 ms).
    const watcher = setInterval(() => {
      if (sent.length >= 3) resume();
    }, 10);
    try {
      const result = await client.workflows.trigger('notify', {recipients: id, data: {text: 'after a stall'}});
      assert.ok(sent.length >= 3, `attempts: ${sent.length}`);
      for (const request of sent) assert.equal(request.idempotencyKey, result.idempotencyKey);
      const items = await waitForFeed(client, id, 1);
      assert.equal(items.length, 1);
      assert.equal(items[0].blocks[0].markdown, 'after a stall for Hal');
      // Every attempt that Herald read was answered with the same run.
      const messages = await client.call('ListMessages', {recipient: id});
      assert.equal(messages.messages.length, 1);
    } finally {
      clearInterval(watcher);
      resume();
      client.close();
    }
  });

  test('UNAVAILABLE is retried with backoff, then reported', kTimeout, async () => {
    // A port nothing listens on (bound, then closed).
    const net = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const listener = net.createServer().listen(0, '127.0.0.1', () => {
        const {port} = listener.address() as {port: number};
        listener.close(() => resolve(port));
      });
    });
    const client = new Herald({address: `127.0.0.1:${port}`, apiKey: 'k', retries: 2, backoff: {initialMs: 50}});
    const started = Date.now();
    try {
      await assert.rejects(client.workflows.trigger('notify', {recipients: 'x'}), (error: unknown) => {
        assert.ok(error instanceof HeraldError);
        assert.equal(error.codeName, 'UNAVAILABLE');
        assert.equal(error.attempts, 3);
        return true;
      });
      // Two waits: at least half of 50 ms and of 100 ms.
      assert.ok(Date.now() - started >= 75);
    } finally {
      client.close();
    }
  });

  test('a rate limit: RESOURCE_EXHAUSTED with Herald\'s retry delay, honoured by the retry', kTimeout, async () => {
    const limited = await server.startReplica(['api', '--trigger_rate_per_key=2', '--trigger_burst_per_key=1']);
    const id = uniqueUser('ivy');
    await herald.users.identify(id, {name: 'Ivy'});
    const once = new Herald({address: limited.address, apiKey: server.apiKey, retries: 0});
    const patient = new Herald({address: limited.address, apiKey: server.apiKey, retries: 2, backoff: {initialMs: 1}});
    try {
      await once.workflows.trigger('notify', {recipients: id, data: {text: 'first'}});
      let delay = 0;
      await assert.rejects(once.workflows.trigger('notify', {recipients: id, data: {text: 'refused'}}), (error: unknown) => {
        assert.ok(error instanceof HeraldError);
        assert.equal(error.codeName, 'RESOURCE_EXHAUSTED', error.message);
        assert.ok(error.retryDelayMs !== undefined && error.retryDelayMs > 0 && error.retryDelayMs <= 1000,
            String(error.retryDelayMs));
        delay = error.retryDelayMs!;
        return true;
      });
      // Refused again at once, then sent after Herald's delay (the 1 ms
      // backoff alone would give up after 3 quick refusals).
      const started = Date.now();
      await patient.workflows.trigger('notify', {recipients: id, data: {text: 'second'}});
      assert.ok(Date.now() - started >= delay / 2, `${Date.now() - started} ms`);
      const items = await waitForFeed(herald, id, 2);
      assert.deepEqual(items.map((item) => item.blocks[0].markdown).sort(), ['first for Ivy', 'second for Ivy']);
    } finally {
      once.close();
      patient.close();
    }
  });
});

describe('tls', () => {
  test('speaks TLS to a Herald with a certificate, verified against the CA given', kTimeout, async () => {
    const pki = makeServerCertificate(server.dir, 'herald.test');
    const secure = await server.startReplica(['api', `--tls_cert_file=${pki.cert}`, `--tls_key_file=${pki.key}`]);
    const ca = fs.readFileSync(pki.ca);
    const verified = new Herald({address: secure.address, apiKey: server.apiKey, tls: {ca, serverName: 'herald.test'}});
    // The system's roots do not know the test CA; plaintext is not served.
    const untrusted = new Herald({address: secure.address, apiKey: server.apiKey, tls: true, retries: 0});
    const plaintext = new Herald({address: secure.address, apiKey: server.apiKey, retries: 0, defaultDeadlineMs: 2000});
    const wrongName = new Herald({address: secure.address, apiKey: server.apiKey, retries: 0,
      tls: {ca, serverName: 'other.test'}});
    try {
      const id = uniqueUser('tls');
      assert.equal((await verified.users.identify(id, {name: 'Tess'})).name, 'Tess');
      for (const client of [untrusted, plaintext, wrongName]) {
        await assert.rejects(client.users.get(id), (error: unknown) => {
          assert.ok(error instanceof HeraldError);
          assert.ok(['UNAVAILABLE', 'DEADLINE_EXCEEDED'].includes(error.codeName), error.codeName + ' ' + error.message);
          return true;
        });
      }
    } finally {
      for (const client of [verified, untrusted, plaintext, wrongName]) client.close();
    }
  });
});
