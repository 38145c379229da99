import { describe, expect, it } from 'vitest';

import { niceMax, scale, ticks } from './chart';

describe('chart scales', () => {
  it('keeps small tops whole and rounds large ones', () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(1)).toBe(1);
    expect(niceMax(2.2)).toBe(3);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(11)).toBe(20);
    expect(niceMax(240)).toBe(250);
    expect(niceMax(4001)).toBe(5000);
  });

  it('ticks in whole numbers', () => {
    expect(ticks(1)).toEqual([0, 1]);
    expect(ticks(3)).toEqual([0, 1, 2, 3]);
    expect(ticks(10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(ticks(250)).toEqual([0, 50, 100, 150, 200, 250]);
    for (const top of [1, 2, 3, 4, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000]) {
      expect(ticks(top).every(Number.isInteger)).toBe(true);
    }
  });

  it('scales proportionally and never divides by zero', () => {
    expect(scale(5, 10, 200)).toBe(100);
    expect(scale(5, 0, 200)).toBe(0);
  });
});
