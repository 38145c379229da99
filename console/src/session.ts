// The one secret the console holds: the bearer token the user pasted, in this tab's
// session storage (gone when the tab closes), cleared on sign-out or when the API says it
// is no longer valid.

const KEY = 'leadhub.console.token';

export interface Session {
  token: string;
  name: string;
  scopes: ('read' | 'write' | 'admin')[];
}

export function storedToken(storage: Pick<Storage, 'getItem'>): string | null {
  const token = storage.getItem(KEY);
  return token != null && token !== '' ? token : null;
}

export function storeToken(storage: Pick<Storage, 'setItem'>, token: string): void {
  storage.setItem(KEY, token);
}

export function clearToken(storage: Pick<Storage, 'removeItem'>): void {
  storage.removeItem(KEY);
}

export function canAdmin(session: Session | null): boolean {
  return session != null && session.scopes.includes('admin');
}
