import { describe, expect, it } from 'vitest';

import { formatAgo, formatCount, formatDuration, formatPercent, formatWeek, leadName } from './format';

describe('format', () => {
  it('writes counts with separators and percentages of a base', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatPercent(1, 3)).toBe('33%');
    expect(formatPercent(2, 2)).toBe('100%');
    expect(formatPercent(5, 0)).toBe('–');
  });

  it('gives a duration its two largest units', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(59)).toBe('59s');
    expect(formatDuration(61)).toBe('1m 1s');
    expect(formatDuration(3 * 3600 + 5 * 60 + 9)).toBe('3h 5m');
    expect(formatDuration(86400 * 2 + 3600)).toBe('2d 1h');
    expect(formatDuration(-1)).toBe('–');
    expect(formatDuration(Number.NaN)).toBe('–');
  });

  it('says how long ago, and never for null', () => {
    const now = Date.parse('2026-11-30T12:00:00Z');
    expect(formatAgo('2026-11-30T11:55:00Z', now)).toBe('5m ago');
    expect(formatAgo('2026-11-30T12:00:00Z', now)).toBe('just now');
    expect(formatAgo(null, now)).toBe('never');
    expect(formatAgo('not a time', now)).toBe('–');
  });

  it('labels a report week by its Monday in UTC', () => {
    expect(formatWeek('2026-11-23')).toBe('23 Nov');
    expect(formatWeek('nonsense')).toBe('nonsense');
  });

  it('names a lead by name, else email, else id', () => {
    expect(leadName({ id: 1, first_name: 'Ada', last_name: 'Lovelace', email: 'a@x' })).toBe('Ada Lovelace');
    expect(leadName({ id: 1, first_name: 'Ada', last_name: null, email: 'a@x' })).toBe('Ada');
    expect(leadName({ id: 1, first_name: null, last_name: '', email: 'a@x' })).toBe('a@x');
    expect(leadName({ id: 7, email: null })).toBe('lead 7');
  });
});
