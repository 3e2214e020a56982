'use strict';
// schema.js must reject what a strict API server rejects: unknown fields at
// any depth (the models alone accept them) and wrong types, and accept maps
// with any keys.
const test = require('node:test');
const assert = require('node:assert');
const {validateObject} = require('../schema');

const deployment = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {name: 'herald-api', labels: {app: 'herald', 'example.com/any-key': 'x'}, annotations: {'prometheus.io/port': '9464'}},
  spec: {
    selector: {matchLabels: {app: 'herald'}},
    template: {
      metadata: {labels: {app: 'herald'}},
      spec: {
        containers: [{
          name: 'herald',
          image: 'herald:dev',
          args: ['api'],
          livenessProbe: {grpc: {port: 50051, service: 'liveness'}},
          resources: {requests: {cpu: '250m', memory: '256Mi'}, limits: {cpu: '2', memory: '1Gi'}},
          securityContext: {capabilities: {drop: ['ALL']}, readOnlyRootFilesystem: true},
        }],
        volumes: [{name: 'tmp', emptyDir: {sizeLimit: '64Mi'}}],
      },
    },
  },
});

test('a valid Deployment passes, labels and annotations with any keys', () => {
  assert.deepStrictEqual(validateObject(deployment()), []);
});

test('the models alone accept an unknown field (why schema.js exists)', () => {
  const {Deployment} = require('kubernetes-models/apps/v1/Deployment');
  const object = deployment();
  object.spec.replicsa = 2;
  assert.doesNotThrow(() => new Deployment(object).validate());
});

test('a typo at any depth is an unknown field, named by its path', () => {
  const cases = [
    [(d) => { d.spec.replicsa = 2; }, 'unknown field spec.replicsa'],
    [(d) => { d.metdata = {}; }, 'unknown field metdata'],
    [(d) => { d.spec.template.spec.containers[0].imagePullPolicyy = 'Always'; }, 'unknown field spec.template.spec.containers[0].imagePullPolicyy'],
    [(d) => { d.spec.template.spec.containers[0].livenessProbe.grpc.servce = 'x'; }, 'unknown field spec.template.spec.containers[0].livenessProbe.grpc.servce'],
    [(d) => { d.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true; },
      'unknown field spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem'],
    [(d) => { d.spec.template.spec.volumes[0].emptyDir.size = '1Gi'; }, 'unknown field spec.template.spec.volumes[0].emptyDir.size'],
  ];
  for (const [mutate, expected] of cases) {
    const object = deployment();
    mutate(object);
    assert.deepStrictEqual(validateObject(object), [expected]);
  }
});

test('a wrong type or value fails', () => {
  const cases = [
    [(d) => { d.spec.replicas = '2'; }, /spec\/replicas must be integer/],
    [(d) => { d.spec.template.spec.containers[0].livenessProbe.grpc.port = 'grpc'; }, /grpc\/port must be integer/],
    [(d) => { d.spec.template.spec.containers[0].resources.limits.cpu = '2 cores'; }, /limits\/cpu must match format "quantity"/],
    [(d) => { d.spec.template.spec.containers[0].args = 'api'; }, /args must be array/],
    [(d) => { d.spec.template.spec.containers[0].imagePullPolicy = 'Sometimes'; }, /imagePullPolicy must be equal to one of the allowed values/],
    [(d) => { delete d.spec.selector; }, /spec must have required property selector/],
  ];
  for (const [mutate, expected] of cases) {
    const object = deployment();
    mutate(object);
    const errors = validateObject(object);
    assert.strictEqual(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0], expected);
  }
});

test('prometheus-operator objects are checked the same way', () => {
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {name: 'herald'},
    spec: {groups: [{name: 'herald', rules: [{alert: 'HeraldDown', expr: 'up == 0', for: '5m', labels: {severity: 'page'}, annotations: {summary: 'x'}}]}]},
  };
  assert.deepStrictEqual(validateObject(rule), []);
  const typo = structuredClone(rule);
  typo.spec.groups[0].rules[0].fro = '5m';
  assert.deepStrictEqual(validateObject(typo), ['unknown field spec.groups[0].rules[0].fro']);
  const wrong = structuredClone(rule);
  wrong.spec.groups[0].rules = 'up == 0';
  assert.match(validateObject(wrong)[0], /rules must be array/);

  const monitor = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: {name: 'herald'},
    spec: {selector: {matchLabels: {app: 'herald'}}, endpoints: [{port: 'metrics', interval: '15s'}]},
  };
  assert.deepStrictEqual(validateObject(monitor), []);
  monitor.spec.endpoints[0].intervall = '15s';
  assert.deepStrictEqual(validateObject(monitor), ['unknown field spec.endpoints[0].intervall']);
});

test('maps take any key; their values are still typed', () => {
  const configMap = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'x'}, data: {'welcome.yaml': 'key: welcome', ANY_KEY: 'v'}};
  assert.deepStrictEqual(validateObject(configMap), []);
  configMap.data.count = 1;
  assert.match(validateObject(configMap)[0], /data\/count must be string/);
});

test('unknown kinds and versions have no schema', () => {
  assert.deepStrictEqual(validateObject({apiVersion: 'v1', kind: 'Servic', metadata: {name: 'x'}}), ['no schema for v1 Servic']);
  assert.deepStrictEqual(validateObject({apiVersion: 'apps/v2', kind: 'Deployment', metadata: {name: 'x'}}), ['no schema for apps/v2 Deployment']);
  assert.match(validateObject({kind: 'Deployment'})[0], /apiVersion and kind must be strings/);
});
