// The console's only way to the hub: the documented /v1 API, typed from docs/openapi.yaml
// (schema.gen.ts is generated from it by `npm run gen`), so an API change the console
// does not follow fails its type check. No private endpoint, no other origin.
import createClient, { type Middleware } from 'openapi-fetch';

import type { components, paths } from './schema.gen';

export type Schemas = components['schemas'];
export type Connector = Schemas['Connector'];
export type ConnectorHealth = Schemas['ConnectorHealth'];
export type Delivery = Schemas['Delivery'];
export type DeliveryStatus = Schemas['DeliveryStatus'];
export type Lead = Schemas['Lead'];
export type LeadDetail = Schemas['LeadDetail'];
export type Meeting = Schemas['Meeting'];
export type Score = Schemas['Score'];
export type TimelineEntry = Schemas['TimelineEntry'];
export type FunnelReport = Schemas['FunnelReport'];
export type MeetingsReport = Schemas['MeetingsReport'];
export type TokenInfo = Schemas['TokenInfo'];
export type ApiError = Schemas['Error'];

export type Client = ReturnType<typeof createClient<paths>>;

export interface ClientOptions {
  baseUrl: string;
  token: string;
  /** called when the hub no longer takes the token (401) */
  onUnauthorized?: () => void;
  fetch?: typeof globalThis.fetch;
}

export function makeClient(options: ClientOptions): Client {
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const auth: Middleware = {
    onRequest({ request }) {
      request.headers.set('Authorization', `Bearer ${options.token}`);
      return request;
    },
    onResponse({ response }) {
      if (response.status === 401) {
        options.onUnauthorized?.();
      }
      return response;
    },
  };
  client.use(auth);
  return client;
}

/** What to tell a person about a failed call: the hub's message, or the status. */
export function errorText(error: unknown, response?: Response): string {
  const body = error as Partial<ApiError> | undefined;
  const message = body?.error?.message;
  if (typeof message === 'string' && message !== '') {
    return message;
  }
  if (response !== undefined) {
    return `the hub answered ${response.status} ${response.statusText}`.trim();
  }
  return error instanceof Error ? error.message : 'the hub could not be reached';
}

/** Unwraps an openapi-fetch result: the data, or an Error with the hub's message. */
export async function need<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (data === undefined || error !== undefined) {
    throw new Error(errorText(error, response));
  }
  return data;
}
