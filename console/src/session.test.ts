import { describe, expect, it } from 'vitest';

import { canAdmin, clearToken, storeToken, storedToken } from './session';

function memory() {
  const items = new Map<string, string>();
  return {
    getItem: (k: string) => items.get(k) ?? null,
    setItem: (k: string, v: string) => void items.set(k, v),
    removeItem: (k: string) => void items.delete(k),
    size: () => items.size,
  };
}

describe('session', () => {
  it('keeps the token until sign-out clears it', () => {
    const storage = memory();
    expect(storedToken(storage)).toBeNull();
    storeToken(storage, 'tok-123');
    expect(storedToken(storage)).toBe('tok-123');
    clearToken(storage);
    expect(storedToken(storage)).toBeNull();
    expect(storage.size()).toBe(0);
  });

  it('shows admin actions to admin tokens only', () => {
    expect(canAdmin(null)).toBe(false);
    expect(canAdmin({ token: 't', name: 'r', scopes: ['read'] })).toBe(false);
    expect(canAdmin({ token: 't', name: 'r', scopes: ['read', 'write'] })).toBe(false);
    expect(canAdmin({ token: 't', name: 'o', scopes: ['read', 'admin'] })).toBe(true);
  });
});
