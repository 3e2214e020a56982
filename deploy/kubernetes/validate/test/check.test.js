'use strict';
// The overlay check catches what it claims to: each case breaks one thing in
// a real render of overlays/dev and expects the check to name it.
//   KUBECTL=... HERALDCTL=... node --test test/check.test.js
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const check = require('../check');

const kubectl = process.env.KUBECTL || 'kubectl';
const dev = check.kubectlRender(kubectl, path.join(check.OVERLAYS_DIR, 'dev'));
const prod = check.kubectlRender(kubectl, path.join(check.OVERLAYS_DIR, 'prod'));
const adapter = check.adapterMetrics();
const errorsOf = (objects, overlay = 'dev') => [...check.schemaErrors(objects), ...check.policyErrors(objects, overlay, adapter)];
const get = (objects, kind, name) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const container = (objects, name) => get(objects, 'Deployment', name).spec.template.spec.containers[0];

// Applies `mutate` to a copy of the dev render and returns the errors.
function broken(mutate, base = dev, overlay = 'dev') {
  const objects = structuredClone(base);
  mutate(objects);
  return errorsOf(objects, overlay);
}

function assertCaught(errors, pattern) {
  assert.ok(errors.some((e) => pattern.test(e)), `expected an error matching ${pattern}, got ${JSON.stringify(errors)}`);
}

test('both overlays pass as they are', () => {
  assert.deepStrictEqual(errorsOf(dev), []);
  assert.deepStrictEqual(errorsOf(prod, 'prod'), []);
  assert.deepStrictEqual(check.scaleErrors(new Map([['dev', dev], ['prod', prod]])), []);
});

test('a typo or a wrong type in a rendered object fails the schema check', () => {
  assertCaught(broken((o) => { container(o, 'herald-api').securityContex = {}; }),
    /^Deployment\/herald-api: unknown field spec\.template\.spec\.containers\[0\]\.securityContex$/);
  assertCaught(broken((o) => { get(o, 'HorizontalPodAutoscaler', 'herald-fanout').spec.minReplica = 1; }),
    /^HorizontalPodAutoscaler\/herald-fanout: unknown field spec\.minReplica$/);
  assertCaught(broken((o) => { get(o, 'ServiceMonitor', 'herald').spec.endpoints[0].prot = 'metrics'; }),
    /^ServiceMonitor\/herald: unknown field spec\.endpoints\[0\]\.prot$/);
  assertCaught(broken((o) => { get(o, 'Deployment', 'herald-batcher').spec.template.spec.terminationGracePeriodSeconds = '35'; }),
    /terminationGracePeriodSeconds must be integer/);
});

test('probes must be gRPC on 50051 for the liveness and readiness services', () => {
  assertCaught(broken((o) => { delete container(o, 'herald-dispatcher').readinessProbe; }),
    /herald-dispatcher: readinessProbe is not a gRPC probe of service "readiness"/);
  assertCaught(broken((o) => { container(o, 'herald-api').livenessProbe.grpc.service = 'readiness'; }),
    /herald-api: livenessProbe is not a gRPC probe of service "liveness"/);
  assertCaught(broken((o) => { container(o, 'herald-delivery').args.push('--grpc_address=127.0.0.1:50051'); }),
    /herald-delivery: --grpc_address is 127\.0\.0\.1:50051/);
});

test('security context, resources and the grace period are enforced', () => {
  assertCaught(broken((o) => { container(o, 'herald-fanout').securityContext.readOnlyRootFilesystem = false; }),
    /herald-fanout: readOnlyRootFilesystem is not true/);
  assertCaught(broken((o) => { container(o, 'herald-fanout').securityContext.capabilities = {drop: ['NET_RAW']}; }),
    /herald-fanout: capabilities do not drop ALL/);
  assertCaught(broken((o) => { delete get(o, 'Deployment', 'herald-api').spec.template.spec.securityContext.runAsNonRoot; }),
    /herald-api: pod securityContext\.runAsNonRoot is not true/);
  assertCaught(broken((o) => { delete container(o, 'herald-batcher').resources.limits.memory; }),
    /herald-batcher: no memory request and limit/);
  assertCaught(broken((o) => { container(o, 'herald-batcher').resources.requests.cpu = '4'; }),
    /herald-batcher: cpu request is above its limit/);
  assertCaught(broken((o) => { get(o, 'Deployment', 'herald-api').spec.template.spec.terminationGracePeriodSeconds = 25; }),
    /herald-api: terminationGracePeriodSeconds 25 must be >= 35/);
});

test('references must resolve', () => {
  assertCaught(broken((o) => { container(o, 'herald-api').env[0].valueFrom.secretKeyRef.key = 'api-key'; }),
    /herald-api: refers to key api-key of Secret herald-api-keys-\w+, which has no such key/);
  assertCaught(broken((o) => { o.splice(o.indexOf(get(o, 'Service', 'herald-redis')), 1); }),
    /StatefulSet\/herald-redis: HERALD_REDIS_URL "redis:\/\/herald-redis:6379" does not point at its Service/);
  assertCaught(broken((o) => { get(o, 'Service', 'herald-delivery').spec.ports[0].targetPort = 'grpc-delivery'; }),
    /Service\/herald-delivery: port delivery targets grpc-delivery, which Deployment\/herald-delivery does not expose/);
  assertCaught(broken((o) => { get(o, 'HorizontalPodAutoscaler', 'herald-fanout').spec.metrics[0].external.metric.name = 'herald_stream_lagg'; }),
    /herald-fanout: does not scale on herald_stream_lag\{stream="batches",group="fanout"\} per pod/);
  assertCaught(broken((o) => { get(o, 'HorizontalPodAutoscaler', 'herald-fanout').spec.metrics.push({type: 'External', external: {metric: {name: 'herald_other'}, target: {type: 'AverageValue', averageValue: '1'}}}); }),
    /herald-fanout: External metric herald_other is not served by the adapter rules/);
  assertCaught(broken((o) => { o.splice(o.indexOf(get(o, 'PodDisruptionBudget', 'herald-api')), 1); }),
    /herald-api: expected one PodDisruptionBudget, found 0/);
  // prod's Secrets come from outside; dev's must all be in the render.
  assertCaught(broken((o) => { o.splice(o.findIndex((x) => x.kind === 'Secret'), 1); }), /which is not in the render/);
});

test('one image, every role, hashed API keys, AOF in dev, more pods in prod', () => {
  assertCaught(broken((o) => { container(o, 'herald-fanout').image = 'herald:other'; }), /expected one image for every role/);
  assertCaught(broken((o) => { o.splice(o.indexOf(get(o, 'Deployment', 'herald-batcher')), 1); }), /expected one Deployment for role batcher, found 0/);
  assertCaught(broken((o) => {
    const secret = o.find((x) => x.kind === 'Secret' && x.metadata.name.startsWith('herald-api-keys'));
    secret.data['api-keys'] = Buffer.from('herald-dev-key').toString('base64');
  }), /api-keys must be comma-separated SHA-256 hashes/);
  assertCaught(broken((o) => {
    const args = get(o, 'StatefulSet', 'herald-redis').spec.template.spec.containers[0].args;
    args[args.indexOf('everysec')] = 'always';
  }), /StatefulSet\/herald-redis: AOF is not fsynced every second/);
  const fewer = structuredClone(prod);
  get(fewer, 'HorizontalPodAutoscaler', 'herald-api').spec.minReplicas = 1;
  assert.deepStrictEqual(check.scaleErrors(new Map([['dev', dev], ['prod', fewer]])),
    ["prod: HorizontalPodAutoscaler/herald-api minReplicas 1 is not above dev's 1"]);
});

test('renders compare equal but for name hashes, and a real change shows', () => {
  const rehashed = structuredClone(dev);
  for (const object of rehashed) {
    if (object.kind === 'ConfigMap' && object.metadata.name.startsWith('herald-settings-')) object.metadata.name = 'herald-settings-0000000000';
  }
  for (const object of rehashed.filter((o) => o.kind === 'Deployment')) {
    for (const source of object.spec.template.spec.containers[0].envFrom || []) source.configMapRef.name = 'herald-settings-0000000000';
  }
  assert.deepStrictEqual(check.compareRenders(dev, rehashed.reverse()), []);
  get(rehashed, 'Deployment', 'herald-api').spec.template.spec.containers[0].args.push('--partitions=8');
  assert.deepStrictEqual(check.compareRenders(dev, rehashed), ['Deployment/herald-api differs']);
});

test('the workflow ConfigMap is linted with heraldctl', {skip: !process.env.HERALDCTL && 'HERALDCTL not set'}, () => {
  assert.deepStrictEqual(check.lintWorkflows(dev, process.env.HERALDCTL), []);
  const bad = structuredClone(dev);
  const workflows = bad.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('herald-workflows-'));
  workflows.data['welcome.yaml'] = workflows.data['welcome.yaml'].replace('type: channel', 'type: chanel');
  assertCaught(check.lintWorkflows(bad, process.env.HERALDCTL), /herald-workflows-\w+: heraldctl workflows lint failed/);
});
