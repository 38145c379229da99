// Hash routes ("#/leads/42?tab=x"): the daemon serves one index.html, so every page of the
// console is the same document and its address lives after the '#'.

export type Page =
  | { name: 'overview' }
  | { name: 'connectors' }
  | { name: 'connector'; id: string }
  | { name: 'deliveries' }
  | { name: 'leads' }
  | { name: 'lead'; id: number }
  | { name: 'meetings' }
  | { name: 'not_found'; path: string };

export interface Route {
  page: Page;
  query: URLSearchParams;
}

const instanceName = /^[a-z0-9_-]{1,63}$/;
const positiveId = /^[1-9][0-9]{0,17}$/;

export function parseRoute(hash: string): Route {
  const raw = hash.startsWith('#') ? hash.slice(1) : hash;
  const [pathPart = '', queryPart = ''] = raw.split('?', 2);
  const path = pathPart === '' ? '/' : pathPart;
  const parts = path.split('/').filter((p) => p !== '');
  const query = new URLSearchParams(queryPart);
  const [first, second, ...more] = parts.map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return '\u0000'; // matches nothing below
    }
  });
  let page: Page = { name: 'not_found', path };
  if (first === undefined) {
    page = { name: 'overview' };
  } else if (more.length === 0 && second === undefined) {
    if (first === 'connectors' || first === 'deliveries' || first === 'leads' || first === 'meetings') {
      page = { name: first };
    }
  } else if (more.length === 0 && second !== undefined) {
    if (first === 'connectors' && instanceName.test(second)) {
      page = { name: 'connector', id: second };
    } else if (first === 'leads' && positiveId.test(second)) {
      page = { name: 'lead', id: Number(second) };
    }
  }
  return { page, query };
}

/** The href of a page, with query parameters (empty and undefined ones left out). */
export function href(path: string, query: Record<string, string | number | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') {
      params.set(key, String(value));
    }
  }
  const text = params.toString();
  return `#${path}${text !== '' ? `?${text}` : ''}`;
}
