import { describe, expect, it } from 'vitest';

import { periodProblem, periodQuery, presetPeriod } from './period';

describe('period', () => {
  const now = Date.parse('2026-11-30T15:30:00Z');

  it('counts a preset back from today, today included', () => {
    expect(presetPeriod('4w', now)).toEqual({ preset: '4w', from: '2026-11-03', to: '2026-11-30' });
    expect(presetPeriod('12w', now)).toEqual({ preset: '12w', from: '2026-09-08', to: '2026-11-30' });
  });

  it('asks the API for [first day, day after the last)', () => {
    expect(periodQuery({ preset: 'custom', from: '2026-11-01', to: '2026-11-30' })).toEqual({
      from: '2026-11-01T00:00:00Z',
      to: '2026-12-01T00:00:00Z',
    });
    // a twelve-week preset is exactly the API's default period of 84 days
    const q = periodQuery(presetPeriod('12w', now));
    expect(Date.parse(q.to) - Date.parse(q.from)).toBe(84 * 86_400_000);
  });

  it('says what is wrong with a period before asking', () => {
    expect(periodProblem({ preset: 'custom', from: '2026-11-02', to: '2026-11-01' })).toMatch(/before/);
    expect(periodProblem({ preset: 'custom', from: '', to: '2026-11-01' })).toMatch(/both/);
    expect(periodProblem({ preset: 'custom', from: '2000-01-01', to: '2026-11-01' })).toMatch(/ten years/);
    expect(periodProblem({ preset: 'custom', from: '2026-11-01', to: '2026-11-01' })).toBeNull();
  });
});
