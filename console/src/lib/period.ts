// The period a report covers: presets counted back from now, or dates the user picks.
// The API takes [from, to) as RFC 3339; dates picked are whole UTC days, `to` inclusive.

export type Preset = '4w' | '12w' | '26w' | '52w' | 'custom';

export interface Period {
  preset: Preset;
  from: string; // YYYY-MM-DD, the first day
  to: string; // YYYY-MM-DD, the last day (included)
}

const DAY_MS = 86_400_000;

export const presetDays: Record<Exclude<Preset, 'custom'>, number> = {
  '4w': 28,
  '12w': 84,
  '26w': 182,
  '52w': 364,
};

export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The last `days` days up to and including today (UTC). */
export function presetPeriod(preset: Exclude<Preset, 'custom'>, nowMs: number): Period {
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
  return { preset, from: isoDay(today - (presetDays[preset] - 1) * DAY_MS), to: isoDay(today) };
}

/** The API's query for a period: from the first day's start to the day after the last. */
export function periodQuery(period: Period): { from: string; to: string } {
  const to = Date.parse(`${period.to}T00:00:00Z`) + DAY_MS;
  return { from: `${period.from}T00:00:00Z`, to: new Date(to).toISOString().replace('.000Z', 'Z') };
}

/** Why a period cannot be asked for, or null. */
export function periodProblem(period: Period): string | null {
  const from = Date.parse(`${period.from}T00:00:00Z`);
  const to = Date.parse(`${period.to}T00:00:00Z`);
  if (Number.isNaN(from) || Number.isNaN(to)) {
    return 'Pick both dates.';
  }
  if (to < from) {
    return 'The last day comes before the first.';
  }
  if ((to - from) / DAY_MS > 3650) {
    return 'Ask for ten years at most.';
  }
  return null;
}
