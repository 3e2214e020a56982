'use strict';
// Renders every kustomize overlay of deploy/kubernetes with `kubectl
// kustomize` and checks what would be applied:
//   - every object against the Kubernetes / prometheus-operator schemas,
//     unknown fields rejected (schema.js);
//   - Herald's own rules (policyErrors): one Deployment per role from one
//     image, gRPC probes on the health services, security context, resources,
//     grace period over the drain deadline, references that resolve
//     (ConfigMaps, Secrets, Services, HPA targets, adapter metric), the dev
//     Redis with AOF, prod scaled above dev;
//   - the adapter rules file, and the workflow files with heraldctl's lint.
//
//   node check.js [--kubectl PATH] [--heraldctl PATH] [--compare-with KUBECTL] [OVERLAY_DIR...]
// --compare-with renders again with a second kubectl (e.g. Debian's 1.20,
// kustomize v2.0.3) and reports any difference beyond generated name hashes.

const {spawnSync} = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const YAML = require('yaml');
const {validateObject} = require('./schema');

const KUBERNETES_DIR = path.resolve(__dirname, '..');
const OVERLAYS_DIR = path.join(KUBERNETES_DIR, 'overlays');
const ADAPTER_RULES = path.join(KUBERNETES_DIR, 'prometheus-adapter-rules.yaml');

const ROLES = ['api', 'batcher', 'fanout', 'dispatcher', 'delivery'];
// Roles that talk to Redis (the delivery service does not).
const REDIS_ROLES = new Set(['api', 'batcher', 'fanout', 'dispatcher']);
// Roles that load workflows (--workflows).
const WORKFLOW_ROLES = new Set(['api', 'batcher', 'fanout']);
// Worker roles scale on consumer-group lag: these (stream, group) pairs at least.
const LAG_METRICS = {
  batcher: [['events', 'batcher']],
  fanout: [['batches', 'fanout']],
  dispatcher: [['deliveries', 'delivery']],
};
const CPU_SCALED = new Set(['api', 'delivery']);
const GRPC_PORT = 50051;
const METRICS_PORT = 9464;
// --drain_timeout_ms default: the grace period must outlast it plus preStop.
const DRAIN_SECONDS = 20;
const MIN_GRACE_SECONDS = 35;
// Secrets an overlay expects to be created outside the repository.
const EXTERNAL_SECRETS = {prod: new Set(['herald-api-keys', 'herald-redis', 'herald-delivery-secrets'])};

function kubectlRender(kubectl, overlayDir) {
  const result = spawnSync(kubectl, ['kustomize', overlayDir], {encoding: 'utf8', maxBuffer: 64 << 20});
  if (result.error) throw new Error(`${kubectl}: ${result.error.message} (scripts/install-deps installs kubectl)`);
  if (result.status !== 0) {
    throw new Error(`${kubectl} kustomize ${overlayDir} failed (exit ${result.status}):\n${result.stderr}`);
  }
  return parseDocuments(result.stdout, `${kubectl} kustomize ${overlayDir}`);
}

function parseDocuments(text, source) {
  // YAML 1.1, as kubectl reads it ("yes" is a boolean there).
  const documents = YAML.parseAllDocuments(text, {version: '1.1'});
  const objects = [];
  for (const document of documents) {
    if (document.errors.length) throw new Error(`${source}: ${document.errors[0].message}`);
    const object = document.toJS({maxAliasCount: -1});
    if (object !== null && object !== undefined) objects.push(object);
  }
  return objects;
}

const idOf = (o) => `${o.kind}/${(o.metadata || {}).name}`;

function schemaErrors(objects) {
  const errors = [];
  for (const object of objects) {
    for (const message of validateObject(object)) errors.push(`${idOf(object)}: ${message}`);
  }
  return errors;
}

// Quantities as Kubernetes writes them, to compare requests with limits.
function quantity(value) {
  const match = /^([0-9]+(?:\.[0-9]+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/.exec(String(value));
  if (!match) return NaN;
  const scale = {m: 1e-3, k: 1e3, Ki: 1024, M: 1e6, Mi: 1024 ** 2, G: 1e9, Gi: 1024 ** 3, T: 1e12, Ti: 1024 ** 4};
  return Number(match[1]) * (match[2] ? scale[match[2]] : 1);
}

const selects = (selector, labels) =>
  selector && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([key, value]) => (labels || {})[key] === value);

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const CLUSTER_SCOPED = new Set(['Namespace']);

function decodeSecret(secret, key) {
  if (secret.stringData && key in secret.stringData) return String(secret.stringData[key]);
  if (secret.data && key in secret.data) return Buffer.from(String(secret.data[key]).replace(/\s/g, ''), 'base64').toString('utf8');
  return undefined;
}

function flagValue(args, flag) {
  const prefix = `--${flag}=`;
  const found = (args || []).filter((a) => typeof a === 'string' && a.startsWith(prefix));
  return found.length ? found[found.length - 1].slice(prefix.length) : undefined;
}

// The adapter's external rules: the External metric names it serves.
function adapterMetrics(adapterFile = ADAPTER_RULES) {
  const errors = [];
  const [configMap] = parseDocuments(fs.readFileSync(adapterFile, 'utf8'), adapterFile);
  for (const message of validateObject(configMap)) errors.push(`${path.basename(adapterFile)}: ${message}`);
  const names = new Set();
  let config;
  try {
    config = YAML.parse(((configMap || {}).data || {})['config.yaml'] || '');
  } catch (error) {
    return {names, errors: errors.concat(`${path.basename(adapterFile)}: config.yaml: ${error.message}`)};
  }
  const rules = (config || {}).externalRules;
  if (!Array.isArray(rules) || rules.length === 0) {
    errors.push(`${path.basename(adapterFile)}: config.yaml has no externalRules`);
    return {names, errors};
  }
  for (const [i, rule] of rules.entries()) {
    const where = `${path.basename(adapterFile)}: externalRules[${i}]`;
    const series = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(String(rule.seriesQuery || ''));
    if (!series) { errors.push(`${where}: seriesQuery must start with a metric name`); continue; }
    const name = (rule.name && rule.name.as) || series[1];
    const query = String(rule.metricsQuery || '');
    if (!query.includes('<<.Series>>') || !query.includes('<<.LabelMatchers>>')) {
      errors.push(`${where}: metricsQuery must select <<.Series>>{<<.LabelMatchers>>} (the HPA's selector and namespace)`);
    }
    if (name === 'herald_stream_lag' && !/sum by \(stream, group\)/.test(query)) {
      errors.push(`${where}: herald_stream_lag must be summed by (stream, group)`);
    }
    names.add(name);
  }
  return {names, errors};
}

function policyErrors(objects, overlay, adapter = adapterMetrics()) {
  const errors = [...adapter.errors];
  const error = (object, message) => errors.push(`${object ? `${idOf(object)}: ` : ''}${message}`);
  const byKind = (kind) => objects.filter((o) => o.kind === kind);
  const find = (kind, name) => objects.find((o) => o.kind === kind && o.metadata && o.metadata.name === name);

  // Every object: names, labels, versions, namespace, uniqueness.
  const namespaces = byKind('Namespace').map((n) => n.metadata.name);
  if (namespaces.length !== 1) error(null, `expected one Namespace, found ${namespaces.length}`);
  const seen = new Set();
  for (const object of objects) {
    const meta = object.metadata || {};
    const key = `${object.kind}/${meta.namespace || ''}/${meta.name}`;
    if (seen.has(key)) error(object, 'defined twice');
    seen.add(key);
    if (!DNS_SUBDOMAIN.test(meta.name || '') || meta.name.length > 253) error(object, `invalid name ${JSON.stringify(meta.name)}`);
    if (/(alpha|beta)[0-9]*$/.test(object.apiVersion)) error(object, `uses the pre-release API ${object.apiVersion}`);
    if (!CLUSTER_SCOPED.has(object.kind) && meta.namespace !== namespaces[0]) {
      error(object, `namespace ${JSON.stringify(meta.namespace)} is not the overlay's ${namespaces[0]}`);
    }
    const labelSets = [meta.labels, ((object.spec || {}).template || {}).metadata?.labels];
    for (const labels of labelSets) {
      for (const [name, value] of Object.entries(labels || {})) {
        if (!LABEL_NAME.test(name)) error(object, `invalid label name ${name}`);
        if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) error(object, `invalid label value ${name}=${JSON.stringify(value)}`);
      }
    }
  }

  // References that must resolve in the render (or be created outside it).
  const external = EXTERNAL_SECRETS[overlay] || new Set();
  const checkRef = (object, kind, name, key) => {
    const target = find(kind, name);
    if (!target) {
      if (!(kind === 'Secret' && external.has(name))) error(object, `refers to ${kind} ${name}, which is not in the render`);
      return;
    }
    if (key !== undefined) {
      const has = kind === 'Secret' ? decodeSecret(target, key) !== undefined : key in (target.data || {});
      if (!has) error(object, `refers to key ${key} of ${kind} ${name}, which has no such key`);
    }
  };
  const workloads = [...byKind('Deployment'), ...byKind('StatefulSet')];
  for (const workload of workloads) {
    const pod = workload.spec.template.spec;
    for (const volume of pod.volumes || []) {
      if (volume.configMap) checkRef(workload, 'ConfigMap', volume.configMap.name);
      if (volume.secret) checkRef(workload, 'Secret', volume.secret.secretName);
    }
    for (const container of [...(pod.containers || []), ...(pod.initContainers || [])]) {
      for (const source of container.envFrom || []) {
        if (source.configMapRef) checkRef(workload, 'ConfigMap', source.configMapRef.name);
        if (source.secretRef) checkRef(workload, 'Secret', source.secretRef.name);
      }
      for (const variable of container.env || []) {
        const from = variable.valueFrom || {};
        if (from.secretKeyRef) checkRef(workload, 'Secret', from.secretKeyRef.name, from.secretKeyRef.key);
        if (from.configMapKeyRef) checkRef(workload, 'ConfigMap', from.configMapKeyRef.name, from.configMapKeyRef.key);
      }
    }
  }

  // Herald's Deployments.
  const herald = byKind('Deployment').filter((d) => (d.metadata.labels || {}).app === 'herald');
  const roles = herald.map((d) => d.spec.template.metadata.labels.role);
  for (const role of ROLES) {
    const count = roles.filter((r) => r === role).length;
    if (count !== 1) error(null, `expected one Deployment for role ${role}, found ${count}`);
  }
  const images = new Set();
  const partitions = new Set();
  for (const deployment of herald) {
    const pod = deployment.spec.template.spec;
    const labels = deployment.spec.template.metadata.labels || {};
    const role = labels.role;
    if (!ROLES.includes(role)) error(deployment, `unknown role label ${JSON.stringify(role)}`);
    if (!selects(deployment.spec.selector.matchLabels, labels)) error(deployment, 'selector does not match its pod labels');
    if (deployment.spec.replicas !== undefined) error(deployment, 'sets replicas, which its HorizontalPodAutoscaler owns');
    if (pod.automountServiceAccountToken !== false) error(deployment, 'mounts a service account token (automountServiceAccountToken: false)');
    const grace = pod.terminationGracePeriodSeconds;
    const security = pod.securityContext || {};
    if (security.runAsNonRoot !== true) error(deployment, 'pod securityContext.runAsNonRoot is not true');
    if (!Number.isInteger(security.runAsUser) || security.runAsUser <= 0) error(deployment, 'pod securityContext.runAsUser is not a non-root UID');
    if ((security.seccompProfile || {}).type !== 'RuntimeDefault') error(deployment, 'pod seccompProfile is not RuntimeDefault');
    const annotations = deployment.spec.template.metadata.annotations || {};
    if (annotations['prometheus.io/port'] !== String(METRICS_PORT)) error(deployment, `prometheus.io/port annotation is not ${METRICS_PORT}`);

    if (pod.containers.length !== 1) error(deployment, 'expected one container');
    const container = pod.containers[0];
    images.add(container.image);
    const args = container.args || [];
    if (args[0] !== role) error(deployment, `runs "herald ${args[0]}", not its role ${role}`);
    const grpcAddress = flagValue(args, 'grpc_address');
    if (grpcAddress !== `0.0.0.0:${GRPC_PORT}` && grpcAddress !== `[::]:${GRPC_PORT}`) {
      error(deployment, `--grpc_address is ${grpcAddress}: the probes need 0.0.0.0:${GRPC_PORT}`);
    }
    if (flagValue(args, 'metrics_address') !== `0.0.0.0:${METRICS_PORT}`) error(deployment, `--metrics_address is not 0.0.0.0:${METRICS_PORT}`);
    const ports = container.ports || [];
    if (!ports.some((p) => p.containerPort === GRPC_PORT)) error(deployment, `no container port ${GRPC_PORT}`);
    if (!ports.some((p) => p.containerPort === METRICS_PORT && p.name === 'metrics')) error(deployment, `no container port "metrics" ${METRICS_PORT}`);

    const probe = (name, service) => {
      const grpc = ((container[name] || {}).grpc) || {};
      if (grpc.port !== GRPC_PORT || grpc.service !== service) {
        error(deployment, `${name} is not a gRPC probe of service "${service}" on ${GRPC_PORT}`);
      }
    };
    probe('livenessProbe', 'liveness');
    probe('readinessProbe', 'readiness');
    if (container.startupProbe) probe('startupProbe', 'liveness');

    const preStop = (((container.lifecycle || {}).preStop || {}).exec || {}).command || [];
    const preStopSeconds = preStop[0] === 'sleep' ? Number(preStop[1]) : 0;
    if (!Number.isInteger(grace) || grace < MIN_GRACE_SECONDS || grace <= DRAIN_SECONDS + preStopSeconds) {
      error(deployment, `terminationGracePeriodSeconds ${grace} must be >= ${MIN_GRACE_SECONDS} and > the ${DRAIN_SECONDS} s drain + ${preStopSeconds} s preStop`);
    }

    const sc = container.securityContext || {};
    if (sc.allowPrivilegeEscalation !== false) error(deployment, 'allowPrivilegeEscalation is not false');
    if (sc.readOnlyRootFilesystem !== true) error(deployment, 'readOnlyRootFilesystem is not true');
    if (sc.privileged === true) error(deployment, 'privileged');
    if (!((sc.capabilities || {}).drop || []).includes('ALL')) error(deployment, 'capabilities do not drop ALL');
    if (((sc.capabilities || {}).add || []).length) error(deployment, 'adds capabilities');
    const mounts = container.volumeMounts || [];
    const volumes = pod.volumes || [];
    const tmp = mounts.find((m) => m.mountPath === '/tmp');
    if (!tmp || !(volumes.find((v) => v.name === tmp.name) || {}).emptyDir) error(deployment, 'no emptyDir at /tmp (the root filesystem is read-only)');

    const resources = container.resources || {};
    for (const resource of ['cpu', 'memory']) {
      const request = quantity((resources.requests || {})[resource]);
      const limit = quantity((resources.limits || {})[resource]);
      if (Number.isNaN(request) || Number.isNaN(limit)) error(deployment, `no ${resource} request and limit`);
      else if (request > limit) error(deployment, `${resource} request is above its limit`);
    }

    const env = Object.fromEntries((container.env || []).map((v) => [v.name, v]));
    const fromSecret = (name) => env[name] && env[name].valueFrom && env[name].valueFrom.secretKeyRef;
    if (!fromSecret('HERALD_API_KEYS')) error(deployment, 'HERALD_API_KEYS does not come from a Secret');
    if (REDIS_ROLES.has(role)) {
      if (!fromSecret('HERALD_REDIS_URL')) error(deployment, 'HERALD_REDIS_URL does not come from a Secret');
      const flag = flagValue(args, 'partitions');
      const settings = (container.envFrom || []).map((s) => s.configMapRef && find('ConfigMap', s.configMapRef.name)).filter(Boolean);
      const value = flag === '$(HERALD_PARTITIONS)'
        ? settings.map((c) => (c.data || {}).HERALD_PARTITIONS).find((v) => v !== undefined)
        : flag;
      if (!/^[0-9]+$/.test(String(value)) || Number(value) < 1 || Number(value) > 1024) error(deployment, `--partitions is ${value}`);
      partitions.add(String(value));
    }
    const mountedFile = (flag) => {
      const file = flagValue(args, flag);
      if (file === undefined) return error(deployment, `no --${flag}`);
      const mount = mounts.find((m) => file === m.mountPath || file.startsWith(`${m.mountPath}/`));
      const volume = mount && volumes.find((v) => v.name === mount.name);
      if (!volume || !volume.configMap) return error(deployment, `--${flag}=${file} is not on a ConfigMap volume`);
      const configMap = find('ConfigMap', volume.configMap.name);
      const key = path.posix.relative(mount.mountPath, file);
      if (configMap && key && !(key in (configMap.data || {}))) error(deployment, `--${flag}=${file}: ConfigMap ${configMap.metadata.name} has no key ${key}`);
    };
    if (WORKFLOW_ROLES.has(role)) mountedFile('workflows');
    if (role === 'dispatcher' || role === 'delivery') mountedFile('delivery_config');

    const pdbs = byKind('PodDisruptionBudget').filter((p) => selects(p.spec.selector.matchLabels, labels));
    if (pdbs.length !== 1) error(deployment, `expected one PodDisruptionBudget, found ${pdbs.length}`);

    const hpas = byKind('HorizontalPodAutoscaler').filter((h) =>
      h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === deployment.metadata.name);
    if (hpas.length !== 1) { error(deployment, `expected one HorizontalPodAutoscaler, found ${hpas.length}`); continue; }
    const hpa = hpas[0];
    if (!(hpa.spec.minReplicas >= 1 && hpa.spec.minReplicas <= hpa.spec.maxReplicas)) error(hpa, 'minReplicas must be between 1 and maxReplicas');
    const metrics = hpa.spec.metrics || [];
    if (CPU_SCALED.has(role) && !metrics.some((m) => m.type === 'Resource' && m.resource.name === 'cpu')) error(hpa, 'does not scale on CPU');
    for (const [stream, group] of LAG_METRICS[role] || []) {
      const found = metrics.some((m) => m.type === 'External' && m.external.metric.name === 'herald_stream_lag' &&
        selects({stream, group}, ((m.external.metric.selector || {}).matchLabels)) && m.external.target.type === 'AverageValue');
      if (!found) error(hpa, `does not scale on herald_stream_lag{stream="${stream}",group="${group}"} per pod`);
    }
    for (const metric of metrics.filter((m) => m.type === 'External')) {
      if (!adapter.names.has(metric.external.metric.name)) error(hpa, `External metric ${metric.external.metric.name} is not served by the adapter rules`);
    }
  }
  if (images.size !== 1) error(null, `expected one image for every role, found ${[...images].join(', ')}`);
  for (const image of images) {
    if (!/:[A-Za-z0-9_][A-Za-z0-9_.-]*$|@sha256:[0-9a-f]{64}$/.test(image) || /:latest$/.test(image)) error(null, `image ${image} has no pinned tag`);
  }
  if (partitions.size > 1) error(null, `--partitions differs between roles: ${[...partitions].join(', ')}`);

  // The Secrets behind HERALD_API_KEYS and HERALD_REDIS_URL (generated
  // names carry a hash, so follow the references).
  const secretFor = (variable) => {
    for (const deployment of herald) {
      const ref = (((deployment.spec.template.spec.containers[0].env || []).find((v) => v.name === variable) || {}).valueFrom || {}).secretKeyRef;
      if (ref) return {secret: find('Secret', ref.name), key: ref.key};
    }
    return {};
  };
  // API keys are hashes, never keys.
  const keys = secretFor('HERALD_API_KEYS');
  if (keys.secret) {
    const value = decodeSecret(keys.secret, keys.key) || '';
    if (!value.split(',').every((h) => /^[0-9a-f]{64}$/.test(h.trim()))) error(keys.secret, `${keys.key} must be comma-separated SHA-256 hashes (64 hex digits)`);
  }

  // Services route to ports that exist.
  for (const service of byKind('Service')) {
    const pods = workloads.filter((w) => selects(service.spec.selector, w.spec.template.metadata.labels));
    if (pods.length === 0) { error(service, 'selects no pods'); continue; }
    for (const port of service.spec.ports || []) {
      const target = port.targetPort === undefined ? port.port : port.targetPort;
      for (const workload of pods) {
        const containerPorts = workload.spec.template.spec.containers.flatMap((c) => c.ports || []);
        if (!containerPorts.some((p) => (typeof target === 'string' ? p.name === target : p.containerPort === target))) {
          error(service, `port ${port.name} targets ${target}, which ${idOf(workload)} does not expose`);
        }
      }
    }
  }
  // The ServiceMonitor scrapes a Service port that exists.
  const monitors = byKind('ServiceMonitor');
  if (monitors.length !== 1) error(null, `expected one ServiceMonitor, found ${monitors.length}`);
  for (const monitor of monitors) {
    const services = byKind('Service').filter((s) => selects(monitor.spec.selector.matchLabels, s.metadata.labels));
    if (services.length === 0) error(monitor, 'selects no Service');
    for (const endpoint of monitor.spec.endpoints || []) {
      for (const service of services) {
        if (!(service.spec.ports || []).some((p) => p.name === endpoint.port)) error(monitor, `${idOf(service)} has no port ${endpoint.port}`);
      }
    }
    if (monitor.spec.jobLabel && !services.every((s) => monitor.spec.jobLabel in (s.metadata.labels || {}))) {
      error(monitor, `jobLabel ${monitor.spec.jobLabel} is not a label of the Service`);
    }
  }
  if (byKind('PrometheusRule').length !== 1) error(null, 'expected one PrometheusRule');

  // A Redis in the render is the dev one: AOF every second on a volume, and
  // the URL Secret points at its Service.
  for (const redis of byKind('StatefulSet')) {
    const container = redis.spec.template.spec.containers[0];
    const args = (container.args || []).map(String).join(' ');
    if (!/--appendonly yes\b/.test(args)) error(redis, 'AOF is not on (--appendonly yes)');
    if (!/--appendfsync everysec\b/.test(args)) error(redis, 'AOF is not fsynced every second (--appendfsync everysec)');
    const dir = /--dir (\S+)/.exec(args);
    const claims = (redis.spec.volumeClaimTemplates || []).map((c) => c.metadata.name);
    const dataMount = (container.volumeMounts || []).find((m) => dir && m.mountPath === dir[1]);
    if (!dataMount || !claims.includes(dataMount.name)) error(redis, 'its --dir is not on a PersistentVolumeClaim');
    const redisUrl = secretFor('HERALD_REDIS_URL');
    const url = redisUrl.secret && decodeSecret(redisUrl.secret, redisUrl.key);
    const parsed = /^redis:\/\/(?:[^@]*@)?([^:/]+):([0-9]+)$/.exec(url || '');
    const service = parsed && find('Service', parsed[1]);
    if (!service || !selects(service.spec.selector, redis.spec.template.metadata.labels) ||
        !(service.spec.ports || []).some((p) => String(p.port) === parsed[2])) {
      error(redis, `HERALD_REDIS_URL ${JSON.stringify(url)} does not point at its Service`);
    }
  }
  return errors;
}

// The workflow files of every ConfigMap mounted at --workflows, linted by
// heraldctl (the same parser Herald starts with).
function lintWorkflows(objects, heraldctl) {
  const configMaps = new Set();
  for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const dir = flagValue(container.args, 'workflows');
    const mount = dir && (container.volumeMounts || []).find((m) => m.mountPath === dir);
    const volume = mount && (pod.volumes || []).find((v) => v.name === mount.name);
    if (volume && volume.configMap) configMaps.add(volume.configMap.name);
  }
  const errors = [];
  for (const name of configMaps) {
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
    if (!configMap) continue;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-k8s-workflows-'));
    try {
      const files = Object.entries(configMap.data || {}).map(([key, text]) => {
        fs.writeFileSync(path.join(dir, key), text);
        return path.join(dir, key);
      });
      if (files.length === 0) { errors.push(`ConfigMap/${name}: no workflow files`); continue; }
      const result = spawnSync(heraldctl, ['workflows', 'lint', ...files], {encoding: 'utf8', timeout: 30000});
      if (result.error || result.status !== 0) {
        errors.push(`ConfigMap/${name}: heraldctl workflows lint failed: ${result.error ? result.error.message : result.stdout + result.stderr}`);
      }
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
  }
  return errors;
}

// Differences between two renders beyond generated names' hash suffixes
// (each kustomize version hashes differently), object order and how Secret
// data is folded over lines.
function compareRenders(left, right) {
  const hashed = new Map();
  for (const object of [...left, ...right]) {
    const name = (object.metadata || {}).name || '';
    const match = /^(.*)-[a-z0-9]{10}$/.exec(name);
    if (match && (object.kind === 'ConfigMap' || object.kind === 'Secret')) hashed.set(name, `${match[1]}-HASH`);
  }
  const normal = (objects) => {
    const text = (value) => (typeof value === 'string' && hashed.has(value) ? hashed.get(value) : value);
    const walk = (value) => Array.isArray(value) ? value.map(walk)
      : value && typeof value === 'object' ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, walk(value[k])]))
        : text(value);
    const unfolded = (o) => o.kind === 'Secret' && o.data
      ? {...o, data: Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, String(v).replace(/\s/g, '')]))}
      : o;
    return new Map(objects.map(unfolded).map(walk).map((o) => [`${o.kind}/${o.metadata.name}`, JSON.stringify(o)]));
  };
  const a = normal(left);
  const b = normal(right);
  const differences = [];
  for (const [id, json] of a) {
    if (!b.has(id)) differences.push(`${id} only in the first render`);
    else if (b.get(id) !== json) differences.push(`${id} differs`);
  }
  for (const id of b.keys()) if (!a.has(id)) differences.push(`${id} only in the second render`);
  return differences;
}

function overlayDirs() {
  return fs.readdirSync(OVERLAYS_DIR).sort().map((name) => path.join(OVERLAYS_DIR, name))
    .filter((dir) => fs.existsSync(path.join(dir, 'kustomization.yaml')));
}

// Cross-overlay: production runs more pods of every role than development.
function scaleErrors(renders) {
  const errors = [];
  const min = (objects) => new Map(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((h) => [h.metadata.name, h.spec.minReplicas]));
  if (!renders.has('dev') || !renders.has('prod')) return errors;
  const dev = min(renders.get('dev'));
  for (const [name, replicas] of min(renders.get('prod'))) {
    if (!(replicas > (dev.get(name) || 0))) errors.push(`prod: HorizontalPodAutoscaler/${name} minReplicas ${replicas} is not above dev's ${dev.get(name)}`);
  }
  return errors;
}

function main(argv) {
  const options = {kubectl: process.env.KUBECTL || 'kubectl', heraldctl: null, compareWith: null, overlays: []};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--kubectl' || arg === '--heraldctl' || arg === '--compare-with') {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      options[{'--kubectl': 'kubectl', '--heraldctl': 'heraldctl', '--compare-with': 'compareWith'}[arg]] = argv[++i];
    } else if (arg.startsWith('--')) {
      throw new Error(`unknown option ${arg} (--kubectl, --heraldctl, --compare-with)`);
    } else {
      options.overlays.push(path.resolve(arg));
    }
  }
  const dirs = options.overlays.length ? options.overlays : overlayDirs();
  const adapter = adapterMetrics();
  let failed = 0;
  const renders = new Map();
  for (const dir of dirs) {
    const overlay = path.basename(dir);
    const errors = [];
    let objects = [];
    try {
      objects = kubectlRender(options.kubectl, dir);
    } catch (e) {
      errors.push(e.message);
    }
    if (objects.length) {
      renders.set(overlay, objects);
      errors.push(...schemaErrors(objects), ...policyErrors(objects, overlay, adapter));
      if (options.heraldctl) errors.push(...lintWorkflows(objects, options.heraldctl));
      if (options.compareWith) {
        try {
          const other = kubectlRender(options.compareWith, dir);
          const differences = compareRenders(objects, other);
          console.log(`${overlay}: ${options.kubectl} and ${options.compareWith} render ${objects.length} / ${other.length} objects, ` +
            `${differences.length ? `differing in: ${differences.join('; ')}` : 'identical but for generated name hashes'}`);
          errors.push(...differences.map((d) => `${options.compareWith}: ${d}`));
        } catch (e) {
          errors.push(e.message);
        }
      }
    }
    const kinds = [...new Set(objects.map((o) => o.kind))].join(', ');
    if (errors.length) {
      failed++;
      console.log(`FAIL ${overlay}: ${objects.length} objects`);
      for (const message of errors) console.log(`  ${message}`);
    } else {
      console.log(`ok   ${overlay}: ${objects.length} objects valid (${kinds})`);
    }
  }
  const crossErrors = scaleErrors(renders);
  for (const message of crossErrors) console.log(`FAIL ${message}`);
  const total = dirs.length + 1;
  failed += crossErrors.length ? 1 : 0;
  console.log(`${total - failed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

module.exports = {kubectlRender, parseDocuments, schemaErrors, policyErrors, adapterMetrics, lintWorkflows, compareRenders, overlayDirs, scaleErrors, OVERLAYS_DIR};

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(`check: ${e.message}`);
    process.exitCode = 2;
  }
}
