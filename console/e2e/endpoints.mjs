// The endpoints the built console calls, read from its bundle, each checked against
// docs/openapi.yaml: a page's data comes only from documented /v1 operations.
//
// Every call goes through the typed client (src/api/client.ts), so each appears in the
// minified bundle as `.GET("/v1/...")` or `.POST("/v1/...")` with its path template. A
// "/v1..." string anywhere else in the bundle (a hand-made fetch) fails the check too.
//
//   node e2e/endpoints.mjs [DIST_DIR] [OPENAPI]   prints the endpoints; exit 1 on a problem
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { parse } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
export const defaultDist = resolve(here, '../dist');
export const defaultSpec = resolve(here, '../../docs/openapi.yaml');

const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** {method, path} of every call in the bundle's JavaScript, and every /v1 string seen. */
export function bundleEndpoints(distDir = defaultDist) {
  const assets = join(distDir, 'assets');
  const calls = [];
  const strings = [];
  for (const file of readdirSync(assets).filter((f) => f.endsWith('.js'))) {
    const text = readFileSync(join(assets, file), 'utf8');
    for (const m of text.matchAll(/\.(GET|POST|PUT|PATCH|DELETE)\(\s*(["'`])(\/v1[^"'`]*)\2/g)) {
      calls.push({ method: m[1], path: m[3], file });
    }
    for (const m of text.matchAll(/(["'`])(\/v1(?:\/[^"'`]*)?)\1/g)) {
      strings.push({ path: m[2], file });
    }
  }
  return { calls, strings };
}

/** The operations docs/openapi.yaml documents: "GET /v1/leads/{id}", ... */
export function documentedOperations(specPath = defaultSpec) {
  const spec = parse(readFileSync(specPath, 'utf8'));
  const operations = new Set();
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    for (const method of Object.keys(item)) {
      if (methods.includes(method.toUpperCase())) {
        operations.add(`${method.toUpperCase()} ${path}`);
      }
    }
  }
  return operations;
}

/** The documented operation a concrete request ("GET", "/v1/leads/42?x=1") is, or null. */
export function operationOf(operations, method, url) {
  const path = url.split('?')[0];
  for (const op of operations) {
    const [opMethod, template] = op.split(' ');
    if (opMethod !== method) {
      continue;
    }
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (pattern.test(path)) {
      return op;
    }
  }
  return null;
}

/** Problems with the bundle's endpoints (empty when every one is documented). */
export function checkBundle(distDir = defaultDist, specPath = defaultSpec) {
  const { calls, strings } = bundleEndpoints(distDir);
  const operations = documentedOperations(specPath);
  const problems = [];
  if (calls.length === 0) {
    problems.push(`no API call found in ${distDir}: is it the console's build?`);
  }
  for (const call of calls) {
    if (!operations.has(`${call.method} ${call.path}`)) {
      problems.push(`${call.method} ${call.path} (${call.file}) is not in docs/openapi.yaml`);
    }
  }
  if (strings.length !== calls.length) {
    const called = new Set(calls.map((c) => c.path));
    for (const s of strings.filter((x) => !called.has(x.path))) {
      problems.push(`"${s.path}" (${s.file}) is used outside the typed client`);
    }
    if (problems.length === 0) {
      problems.push(`${strings.length} /v1 strings but ${calls.length} client calls`);
    }
  }
  const unique = [...new Set(calls.map((c) => `${c.method} ${c.path}`))].sort();
  return { endpoints: unique, problems };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { endpoints, problems } = checkBundle(process.argv[2] ?? defaultDist, process.argv[3] ?? defaultSpec);
  for (const e of endpoints) {
    console.log(e);
  }
  for (const p of problems) {
    console.error(`endpoints: ${p}`);
  }
  process.exit(problems.length === 0 ? 0 : 1);
}
