import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { checkBundle, documentedOperations, operationOf } from './endpoints.mjs';

const dirs = [];
function bundle(js) {
  const dir = mkdtempSync(join(tmpdir(), 'console-bundle-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'assets', 'index-x.js'), js);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) {
    rmSync(d, { recursive: true, force: true });
  }
});

describe('the endpoint check', () => {
  it('passes a bundle whose calls are all documented', () => {
    const dir = bundle('a.GET("/v1/leads/{id}",{});b.POST("/v1/deliveries/{id}/replay",{})');
    expect(checkBundle(dir)).toEqual({
      endpoints: ['GET /v1/leads/{id}', 'POST /v1/deliveries/{id}/replay'],
      problems: [],
    });
  });

  it('fails an undocumented path, a wrong method, and a call outside the client', () => {
    expect(checkBundle(bundle('a.GET("/v1/secret/admin")')).problems).toEqual([
      'GET /v1/secret/admin (index-x.js) is not in docs/openapi.yaml',
    ]);
    expect(checkBundle(bundle('a.POST("/v1/leads")')).problems).toEqual([
      'POST /v1/leads (index-x.js) is not in docs/openapi.yaml',
    ]);
    expect(checkBundle(bundle('a.GET("/v1/leads");fetch("/v1/private")')).problems).toEqual([
      '"/v1/private" (index-x.js) is used outside the typed client',
    ]);
    expect(checkBundle(bundle('nothing here')).problems[0]).toMatch(/no API call found/);
  });

  it('maps a concrete request to its documented operation', () => {
    const ops = documentedOperations();
    expect(operationOf(ops, 'GET', '/v1/leads/42/timeline?limit=25')).toBe('GET /v1/leads/{id}/timeline');
    expect(operationOf(ops, 'POST', '/v1/deliveries/9/replay')).toBe('POST /v1/deliveries/{id}/replay');
    expect(operationOf(ops, 'GET', '/v1/leads/42/secrets')).toBeNull();
    expect(operationOf(ops, 'DELETE', '/v1/leads/42')).toBeNull();
  });
});
