// Scales for the small SVG charts. They show counts, so the axis tops and ticks are whole
// numbers: every integer up to 5, else five equal steps of a round top.

/** The top of an axis for values up to `max`: max itself up to 5 (at least 1), else the
 * smallest of 1, 2, 2.5, 5 x 10^k at or above it. */
export function niceMax(max: number): number {
  if (!(max > 0)) {
    return 1;
  }
  if (max <= 5) {
    return Math.ceil(max);
  }
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= max) {
      return step * power;
    }
  }
  return 10 * power;
}

/** Ticks from 0 to `top` (a niceMax): each integer up to 5, else five steps. */
export function ticks(top: number): number[] {
  const steps = top <= 5 ? top : 5;
  const out: number[] = [];
  for (let i = 0; i <= steps; i++) {
    out.push((top * i) / steps);
  }
  return out;
}

/** Where value sits on an axis of `length` pixels from 0 to top. */
export function scale(value: number, top: number, length: number): number {
  return top > 0 ? (value / top) * length : 0;
}

/** About how wide `text` renders at 13 px in a sans-serif font. */
export function textWidth(text: string): number {
  return Math.ceil(text.length * 7.8);
}
