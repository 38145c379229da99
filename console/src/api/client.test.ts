import { describe, expect, it } from 'vitest';

import { errorText, makeClient, need } from './client';

interface Seen {
  url: string;
  method: string;
  authorization: string | null;
  body: string | null;
}

/** A fetch that records requests and answers each with the next scripted response. */
function scripted(answers: { status: number; body: unknown }[]) {
  const seen: Seen[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    seen.push({
      url: request.url,
      method: request.method,
      authorization: request.headers.get('Authorization'),
      body: request.body === null ? null : await request.text(),
    });
    const answer = answers.shift() ?? { status: 500, body: {} };
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      headers: { 'Content-Type': 'application/json' },
    });
  };
  return { fetch: fetch as typeof globalThis.fetch, seen };
}

describe('api client', () => {
  it('sends the bearer token, path parameters and query to the documented path', async () => {
    const { fetch, seen } = scripted([{ status: 200, body: { data: [], next: null } }]);
    const client = makeClient({ baseUrl: 'http://hub.test', token: 'tok-abc', fetch });
    const page = await need(
      client.GET('/v1/leads/{id}/timeline', {
        params: { path: { id: 42 }, query: { limit: 25, before: 7 } },
      }),
    );
    expect(page).toEqual({ data: [], next: null });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toBe('http://hub.test/v1/leads/42/timeline?limit=25&before=7');
    expect(seen[0]?.authorization).toBe('Bearer tok-abc');
  });

  it('posts JSON bodies', async () => {
    const { fetch, seen } = scripted([{ status: 200, body: { would_replay: 3 } }]);
    const client = makeClient({ baseUrl: 'http://hub.test', token: 't', fetch });
    const { data } = await client.POST('/v1/deliveries/replay', { body: { route: 'orders', dry_run: true } });
    expect(data).toEqual({ would_replay: 3 });
    expect(seen[0]?.method).toBe('POST');
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({ route: 'orders', dry_run: true });
  });

  it('tells the session when the hub refuses the token', async () => {
    const { fetch } = scripted([
      {
        status: 401,
        body: { error: { code: 'unauthorized', message: 'the bearer token is not valid', details: null } },
      },
    ]);
    let refused = 0;
    const client = makeClient({
      baseUrl: 'http://hub.test',
      token: 'old',
      fetch,
      onUnauthorized: () => refused++,
    });
    await expect(need(client.GET('/v1/connectors'))).rejects.toThrow('the bearer token is not valid');
    expect(refused).toBe(1);
  });

  it("says the hub's message, else its status", () => {
    expect(errorText({ error: { code: 'x', message: 'no such lead', details: null } })).toBe('no such lead');
    expect(errorText(undefined, new Response(null, { status: 503, statusText: 'Service Unavailable' }))).toBe(
      'the hub answered 503 Service Unavailable',
    );
    expect(errorText(new Error('offline'))).toBe('offline');
  });
});
