import { describe, expect, it } from 'vitest';

import { href, parseRoute } from './router';

describe('router', () => {
  it('reads every page from the hash', () => {
    expect(parseRoute('').page).toEqual({ name: 'overview' });
    expect(parseRoute('#/').page).toEqual({ name: 'overview' });
    expect(parseRoute('#/connectors').page).toEqual({ name: 'connectors' });
    expect(parseRoute('#/connectors/hubspot-main').page).toEqual({ name: 'connector', id: 'hubspot-main' });
    expect(parseRoute('#/leads/42').page).toEqual({ name: 'lead', id: 42 });
    expect(parseRoute('#/deliveries?status=dead&destination=crm').query.get('destination')).toBe('crm');
    expect(parseRoute('#/meetings?when=past').page).toEqual({ name: 'meetings' });
  });

  it('names nothing it does not know', () => {
    for (const hash of [
      '#/leads/0',
      '#/leads/abc',
      '#/leads/1/2',
      '#/connectors/Bad Name',
      '#/nope',
      '#/connectors/%E0%A4%A',
    ]) {
      expect(parseRoute(hash).page.name).toBe('not_found');
    }
  });

  it('writes links, leaving empty parameters out', () => {
    expect(href('/deliveries', { status: 'dead', destination: '', route: undefined })).toBe(
      '#/deliveries?status=dead',
    );
    expect(href('/leads/7')).toBe('#/leads/7');
    expect(href('/leads', { email: 'a+b@x.test' })).toBe('#/leads?email=a%2Bb%40x.test');
    expect(parseRoute(href('/leads', { email: 'a+b@x.test' })).query.get('email')).toBe('a+b@x.test');
  });
});
