// Formatting for people: numbers, times, durations. Times are shown in the browser's own
// time zone; report weeks stay the UTC weeks the API groups by.

const numberFormat = new Intl.NumberFormat('en');

export function formatCount(n: number): string {
  return numberFormat.format(n);
}

/** A ratio as a whole percentage, or an en dash when the base is zero. */
export function formatPercent(part: number, whole: number): string {
  if (whole <= 0) {
    return '–';
  }
  return `${Math.round((part / whole) * 100)}%`;
}

/** "3m", "2h 5m", "4d 1h": the two largest units of a duration in seconds. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) {
    return '–';
  }
  const units: [string, number][] = [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  let rest = Math.floor(seconds);
  for (const [suffix, size] of units) {
    if (rest >= size || (parts.length === 0 && size === 1)) {
      parts.push(`${Math.floor(rest / size)}${suffix}`);
      rest %= size;
    }
    if (parts.length === 2) {
      break;
    }
  }
  return parts.join(' ');
}

/** How long ago `iso` was, from `nowMs`: "5m ago", "never" for null. */
export function formatAgo(iso: string | null | undefined, nowMs: number): string {
  if (iso == null) {
    return 'never';
  }
  const at = Date.parse(iso);
  if (Number.isNaN(at)) {
    return '–';
  }
  const seconds = Math.max(0, (nowMs - at) / 1000);
  return seconds < 1 ? 'just now' : `${formatDuration(seconds)} ago`;
}

const dateTime = new Intl.DateTimeFormat('en-GB', {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

export function formatDateTime(iso: string | null | undefined): string {
  if (iso == null) {
    return '–';
  }
  const at = Date.parse(iso);
  return Number.isNaN(at) ? iso : dateTime.format(at);
}

const weekLabel = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });

/** A report's week key ("2026-11-23", its Monday in UTC) as "23 Nov". */
export function formatWeek(key: string): string {
  const at = Date.parse(`${key}T00:00:00Z`);
  return Number.isNaN(at) ? key : weekLabel.format(at);
}

/** A lead's name for people: first and last name, else the email, else its id. */
export function leadName(lead: {
  id: number;
  first_name?: string | null;
  last_name?: string | null;
  email?: string | null;
}): string {
  const name = [lead.first_name, lead.last_name].filter((p) => p != null && p !== '').join(' ');
  return name !== '' ? name : (lead.email ?? `lead ${lead.id}`);
}
