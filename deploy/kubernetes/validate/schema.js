'use strict';
// Offline schema validation of Kubernetes objects with unknown fields
// rejected, as `kubectl apply --validate=strict` would on a server.
//
// The models of kubernetes-models (the Kubernetes OpenAPI schemas) and
// @kubernetes-models/prometheus-operator check types, enums, formats and
// required fields, but accept any field they do not know: their schemas
// allow additional properties, and they ship as precompiled ajv code, not as
// JSON schemas we could tighten. So the unknown fields are found by watching
// the precompiled validator read the object: it reads every property its
// schema declares (present or not) and every key of a map
// (additionalProperties), and nothing else. An object of which it read some
// property, but not all of its keys, has keys the schema does not declare.
// An object it never looked into is free-form in the schema (none in the
// kinds Herald uses) and is not judged.

const CORE_GROUPS = new Set(['']);

// The model class for apiVersion/kind, or an Error naming what is unknown.
function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    return new Error(`apiVersion and kind must be strings (got ${JSON.stringify(apiVersion)}, ${JSON.stringify(kind)})`);
  }
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  if (!/^[a-z0-9.-]*$/.test(group) || !/^v[0-9]+((alpha|beta)[0-9]+)?$/.test(version)) {
    return new Error(`unknown apiVersion ${apiVersion}`);
  }
  const modulePath = group === 'monitoring.coreos.com'
    ? `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`
    : CORE_GROUPS.has(group)
      ? `kubernetes-models/${version}/${kind}`
      : `kubernetes-models/${group}/${version}/${kind}`;
  let module;
  try {
    module = require(modulePath);
  } catch (error) {
    if (error.code === 'MODULE_NOT_FOUND' || error.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return new Error(`no schema for ${apiVersion} ${kind}`);
    throw error;
  }
  const model = module[kind];
  if (typeof model !== 'function' || typeof model.prototype.validate !== 'function') {
    return new Error(`no schema for ${apiVersion} ${kind}`);
  }
  return model;
}

// A copy of `value` whose objects record which keys are read, and the list
// of those records.
function tracked(value, path, nodes) {
  if (Array.isArray(value)) return value.map((item, i) => tracked(item, `${path}[${i}]`, nodes));
  if (value === null || typeof value !== 'object') return value;
  const node = {path, keys: Object.keys(value), read: new Set()};
  nodes.push(node);
  const copy = {};
  for (const key of node.keys) copy[key] = tracked(value[key], path ? `${path}.${key}` : key, nodes);
  const note = (key) => { if (typeof key === 'string') node.read.add(key); };
  return new Proxy(copy, {
    get(target, key, receiver) { note(key); return Reflect.get(target, key, receiver); },
    has(target, key) { note(key); return Reflect.has(target, key); },
  });
}

// Validates one object. Returns a list of messages, empty when it is valid:
// schema errors as the model reports them ("data/spec/replicas must be
// integer"), unknown fields as "unknown field spec.replicsa".
function validateObject(object) {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) return ['not an object'];
  if (object.apiVersion === 'v1' && object.kind === 'Secret' && object.data && typeof object.data === 'object') {
    // The API server decodes base64 with Go's decoder, which skips line
    // breaks; kustomize v5 folds long values over lines.
    const data = {};
    for (const [key, value] of Object.entries(object.data)) data[key] = typeof value === 'string' ? value.replace(/[\r\n]/g, '') : value;
    object = {...object, data};
  }
  const model = modelFor(object.apiVersion, object.kind);
  if (model instanceof Error) return [model.message];
  const nodes = [];
  const proxy = tracked(object, '', nodes);
  try {
    model.prototype.validate.call(proxy);
  } catch (error) {
    if (error.validation !== true || !Array.isArray(error.errors)) throw error;
    // The validator may have stopped at the first error, so keys it did not
    // read are not known to be unknown: report the schema error alone.
    return [String(error.message)];
  }
  const errors = [];
  for (const node of nodes) {
    if (node.read.size === 0) continue;
    for (const key of node.keys) {
      if (!node.read.has(key)) errors.push(`unknown field ${node.path ? `${node.path}.` : ''}${key}`);
    }
  }
  return errors;
}

module.exports = {modelFor, validateObject};
