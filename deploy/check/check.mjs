#!/usr/bin/env node
// check.mjs FILE... - offline checks of rendered Kubernetes manifests (multi-document YAML,
// as `kubectl kustomize` prints them). Exits 1 with one line per problem:
//
//   1. schema: every object against the Kubernetes (or its CRD's) schema: types, required
//      fields, enums, formats (kubernetes-models);
//   2. strict: no field the schema does not know, so a misspelt key fails instead of being
//      dropped silently by the API server (as kubeconform -strict does with its schemas):
//      built-in kinds from the attribute maps of @kubernetes/client-node, custom resources
//      from the type declarations kubernetes-models generates from their CRDs;
//   3. Pod Security "restricted" (and so "baseline") on every pod template, rule by rule
//      as https://kubernetes.io/docs/concepts/security/pod-security-standards/ lists them;
//   4. the project's own rules: no Secret in the output (secrets are never committed),
//      the Ingress exposes /webhooks/ only.
//
// Unknown kinds fail too: a typo in `kind:` is a problem, not an object to skip.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import * as k8s from '@kubernetes/client-node';
import yaml from 'js-yaml';

const require = createRequire(import.meta.url);

// apiVersion/kind -> [model module for schema validation, client-node class for fields]
const KINDS = {
  'v1/Namespace': ['kubernetes-models/v1/Namespace', 'V1Namespace'],
  'v1/ServiceAccount': ['kubernetes-models/v1/ServiceAccount', 'V1ServiceAccount'],
  'v1/ConfigMap': ['kubernetes-models/v1/ConfigMap', 'V1ConfigMap'],
  'v1/Secret': ['kubernetes-models/v1/Secret', 'V1Secret'],
  'v1/Service': ['kubernetes-models/v1/Service', 'V1Service'],
  'apps/v1/Deployment': ['kubernetes-models/apps/v1/Deployment', 'V1Deployment'],
  'batch/v1/Job': ['kubernetes-models/batch/v1/Job', 'V1Job'],
  'policy/v1/PodDisruptionBudget': [
    'kubernetes-models/policy/v1/PodDisruptionBudget',
    'V1PodDisruptionBudget',
  ],
  'networking.k8s.io/v1/Ingress': ['kubernetes-models/networking.k8s.io/v1/Ingress', 'V1Ingress'],
  'networking.k8s.io/v1/NetworkPolicy': [
    'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
    'V1NetworkPolicy',
  ],
  'monitoring.coreos.com/v1/ServiceMonitor': [
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
    null,
  ],
  'monitoring.coreos.com/v1/PrometheusRule': [
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule',
    null,
  ],
  'external-secrets.io/v1beta1/ExternalSecret': [
    '@kubernetes-models/external-secrets/external-secrets.io/v1beta1/ExternalSecret',
    null,
  ],
  'argoproj.io/v1alpha1/Application': [
    '@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application',
    null,
  ],
};

const problems = [];

function report(file, doc, path, message) {
  const what = doc && doc.kind ? `${doc.kind}/${(doc.metadata && doc.metadata.name) || '?'}` : '?';
  problems.push(`${file}: ${what}: ${path ? path + ': ' : ''}${message}`);
}

// --- 1. schema -----------------------------------------------------------------------------
function checkSchema(file, doc, modulePath) {
  const mod = require(modulePath);
  const Model = mod[doc.kind];
  try {
    new Model(doc).validate();
  } catch (error) {
    // ajv's message lists every failure, "data/spec/replicas must be integer, ..."
    for (const line of String(error.message).split(/,\s*(?=data)/)) {
      report(file, doc, '', `schema: ${line.replace(/^data/, '')}`);
    }
  }
}

// --- 2. strict fields ----------------------------------------------------------------------
function classOf(type) {
  return k8s[type];
}

function checkFields(file, doc, value, type, path) {
  if (value === null || value === undefined || type === 'any' || type === 'object') {
    return;
  }
  let m = /^Array<(.+)>$/.exec(type);
  if (m) {
    if (Array.isArray(value)) {
      value.forEach((item, i) => checkFields(file, doc, item, m[1], `${path}[${i}]`));
    }
    return;
  }
  m = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (m) {
    if (typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, item] of Object.entries(value)) {
        checkFields(file, doc, item, m[1], `${path}.${key}`);
      }
    }
    return;
  }
  const cls = classOf(type);
  if (!cls || typeof cls.getAttributeTypeMap !== 'function') {
    return; // string, number, boolean, Date, IntOrString: the schema check's business
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    return;
  }
  const attributes = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [key, item] of Object.entries(value)) {
    const here = path ? `${path}.${key}` : key;
    if (!attributes.has(key)) {
      report(file, doc, here, `unknown field (${type} has ${[...attributes.keys()].join(', ')})`);
      continue;
    }
    checkFields(file, doc, item, attributes.get(key), here);
  }
}

// Custom resources: the field tree of `interface I<Kind>` in the model's .d.ts, which
// kubernetes-models generates from the CRD's schema, one quoted key per line:
//   "key"?: type;            a leaf        "key"?: {  /  Array<{   a nested object
//   [key: string]: ...       any key here  };  /  }>;             the end of one
function crdFieldTree(modulePath, kind) {
  // the package's exports name only its .js files: the .d.ts sits beside each
  const source = fs.readFileSync(require.resolve(modulePath).replace(/\.js$/, '.d.ts'), 'utf8');
  const lines = source.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`export interface I${kind} {`));
  if (start < 0) return null;
  const root = { keys: new Map(), open: false };
  const stack = [root];
  for (let i = start + 1; i < lines.length && stack.length > 0; i++) {
    const line = lines[i].trim();
    if (line.startsWith('/**') || line.startsWith('*') || line === '') continue;
    const top = stack[stack.length - 1];
    let m = /^"([^"]+)"\??: (.*)$/.exec(line);
    if (m) {
      if (/\{$/.test(m[2])) {
        const child = { keys: new Map(), open: false };
        top.keys.set(m[1], child);
        stack.push(child);
      } else {
        top.keys.set(m[1], /IObjectMeta/.test(m[2]) ? 'V1ObjectMeta' : null);
      }
      continue;
    }
    if (/^\[key: string\]/.test(line)) {
      top.open = true;
      if (/\{$/.test(line)) stack.push({ keys: new Map(), open: true });
      continue;
    }
    if (/^\}/.test(line)) {
      stack.pop();
      continue;
    }
    top.open = true; // a shape this reader does not know: accept anything there
  }
  return root;
}

function checkCrdFields(file, doc, value, node, path) {
  if (value === null || typeof value !== 'object' || node === null) return;
  if (typeof node === 'string') {
    checkFields(file, doc, value, node, path);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkCrdFields(file, doc, item, node, `${path}[${i}]`));
    return;
  }
  if (node.open) return;
  for (const [key, item] of Object.entries(value)) {
    const here = path ? `${path}.${key}` : key;
    if (!node.keys.has(key)) {
      report(file, doc, here, `unknown field (known here: ${[...node.keys.keys()].join(', ')})`);
      continue;
    }
    checkCrdFields(file, doc, item, node.keys.get(key), here);
  }
}

// --- 3. Pod Security "restricted" ----------------------------------------------------------
const RESTRICTED_VOLUMES = new Set([
  'configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim',
  'projected', 'secret',
]);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t',
  'container_engine_t']);

function podSpecOf(doc) {
  const spec = doc.spec || {};
  switch (doc.kind) {
    case 'Pod':
      return [spec, 'spec'];
    case 'CronJob':
      return [spec.jobTemplate?.spec?.template?.spec, 'spec.jobTemplate.spec.template.spec'];
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'Job':
      return [spec.template?.spec, 'spec.template.spec'];
    default:
      return [null, null];
  }
}

function checkRestricted(file, doc) {
  const [pod, at] = podSpecOf(doc);
  if (!pod) {
    return;
  }
  const fail = (path, rule) => report(file, doc, `${at}${path}`, `Pod Security restricted: ${rule}`);
  const podContext = pod.securityContext || {};
  for (const key of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (pod[key]) fail(`.${key}`, `${key} must not be true`);
  }
  if (podContext.windowsOptions?.hostProcess) fail('.securityContext.windowsOptions.hostProcess', 'no host processes');
  for (const [i, volume] of (pod.volumes || []).entries()) {
    const type = Object.keys(volume).find((k) => k !== 'name');
    if (!RESTRICTED_VOLUMES.has(type)) fail(`.volumes[${i}]`, `volume type ${type} is not allowed`);
  }
  for (const [i, sysctl] of (podContext.sysctls || []).entries()) {
    if (!SAFE_SYSCTLS.has(sysctl.name)) fail(`.securityContext.sysctls[${i}]`, `sysctl ${sysctl.name} is not safe`);
  }
  const seLinux = (ctx, path) => {
    if (!ctx?.seLinuxOptions) return;
    if (!SELINUX_TYPES.has(ctx.seLinuxOptions.type || '')) fail(path, 'SELinux type not allowed');
    if (ctx.seLinuxOptions.user || ctx.seLinuxOptions.role) fail(path, 'SELinux user and role must be unset');
  };
  seLinux(podContext, '.securityContext.seLinuxOptions');
  const appArmor = (ctx, path) => {
    const type = ctx?.appArmorProfile?.type;
    if (type && type !== 'RuntimeDefault' && type !== 'Localhost') fail(path, 'AppArmor profile must be RuntimeDefault or Localhost');
  };
  appArmor(podContext, '.securityContext.appArmorProfile');
  const podSeccomp = podContext.seccompProfile?.type;
  if (podSeccomp && podSeccomp !== 'RuntimeDefault' && podSeccomp !== 'Localhost') {
    fail('.securityContext.seccompProfile.type', 'must be RuntimeDefault or Localhost');
  }
  if (podContext.runAsUser === 0) fail('.securityContext.runAsUser', 'must not be 0');
  const lists = ['initContainers', 'containers', 'ephemeralContainers'];
  for (const list of lists) {
    for (const [i, c] of (pod[list] || []).entries()) {
      const path = `.${list}[${i}]`;
      const ctx = c.securityContext || {};
      if (ctx.privileged) fail(`${path}.securityContext.privileged`, 'must not be true');
      if (ctx.windowsOptions?.hostProcess) fail(`${path}.securityContext.windowsOptions.hostProcess`, 'no host processes');
      if (ctx.procMount && ctx.procMount !== 'Default') fail(`${path}.securityContext.procMount`, 'must be Default');
      for (const [p, port] of (c.ports || []).entries()) {
        if (port.hostPort) fail(`${path}.ports[${p}].hostPort`, 'host ports are not allowed');
      }
      seLinux(ctx, `${path}.securityContext.seLinuxOptions`);
      appArmor(ctx, `${path}.securityContext.appArmorProfile`);
      if (ctx.allowPrivilegeEscalation !== false) {
        fail(`${path}.securityContext.allowPrivilegeEscalation`, 'must be false');
      }
      const nonRoot = ctx.runAsNonRoot ?? podContext.runAsNonRoot;
      if (nonRoot !== true) fail(`${path}.securityContext.runAsNonRoot`, 'must be true (here or in the pod)');
      if (ctx.runAsUser === 0) fail(`${path}.securityContext.runAsUser`, 'must not be 0');
      const seccomp = ctx.seccompProfile?.type ?? podSeccomp;
      if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
        fail(`${path}.securityContext.seccompProfile.type`, 'must be RuntimeDefault or Localhost (here or in the pod)');
      }
      const drop = ctx.capabilities?.drop || [];
      if (!drop.includes('ALL')) fail(`${path}.securityContext.capabilities.drop`, 'must include ALL');
      for (const cap of ctx.capabilities?.add || []) {
        if (cap !== 'NET_BIND_SERVICE') fail(`${path}.securityContext.capabilities.add`, `${cap} may not be added`);
      }
    }
  }
}

// --- 4. project rules ----------------------------------------------------------------------
function checkProject(file, doc) {
  if (doc.kind === 'Secret') {
    report(file, doc, '', 'a Secret in the manifests: secrets are supplied from outside git ' +
      '(External Secrets, Sealed Secrets, SOPS: docs/operations.md)');
  }
  if (doc.kind === 'Ingress') {
    for (const [r, rule] of (doc.spec?.rules || []).entries()) {
      for (const [p, path] of (rule.http?.paths || []).entries()) {
        if (!path.path || !path.path.startsWith('/webhooks/')) {
          report(file, doc, `spec.rules[${r}].http.paths[${p}].path`,
            `exposes ${path.path || '/'}: only /webhooks/ may be reached from outside`);
        }
      }
    }
    if (doc.spec?.defaultBackend) {
      report(file, doc, 'spec.defaultBackend', 'a default backend exposes every path');
    }
  }
}

// --- main ----------------------------------------------------------------------------------
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: check.mjs RENDERED.yaml...');
  process.exit(2);
}
let objects = 0;
for (const file of files) {
  let docs;
  try {
    docs = yaml.loadAll(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    problems.push(`${file}: not YAML: ${error.message.split('\n')[0]}`);
    continue;
  }
  for (const doc of docs) {
    if (doc === null || doc === undefined) continue;
    objects++;
    const key = `${doc.apiVersion}/${doc.kind}`;
    const known = KINDS[key];
    if (!known) {
      report(file, doc, '', `unknown apiVersion/kind ${key} (checked: ${Object.keys(KINDS).join(', ')})`);
      continue;
    }
    checkSchema(file, doc, known[0]);
    if (known[1]) {
      checkFields(file, doc, doc, known[1], '');
    } else {
      checkCrdFields(file, doc, doc, crdFieldTree(known[0], doc.kind), '');
    }
    checkRestricted(file, doc);
    checkProject(file, doc);
  }
}
if (problems.length > 0) {
  for (const line of problems) console.log(line);
  console.log(`${problems.length} problem(s) in ${objects} object(s)`);
  process.exit(1);
}
console.log(`${objects} object(s) in ${files.length} file(s): schemas, fields, Pod Security restricted, project rules: ok`);
