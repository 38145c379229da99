// Small SVG charts, drawn with attributes and classes only (the Content-Security-Policy
// allows no inline styles). Each is drawn at the width its box has (so text keeps its
// size on a phone and on a wide screen) and has a text alternative: an aria-label summary
// on the figure, and the numbers in a table next to it.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

import { niceMax, scale, textWidth, ticks } from '../lib/chart';
import { formatCount } from '../lib/format';

export interface Series {
  name: string;
  values: number[];
}

/** Renders `draw(width)` at its container's width in CSS pixels. */
function Measured(props: { draw: (width: number) => ComponentChildren }) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const element = box.current;
    if (element === null) {
      return;
    }
    const update = () => setWidth(Math.floor(element.getBoundingClientRect().width));
    update();
    const observer = new ResizeObserver(update);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return (
    <div ref={box} class="chart-box">
      {width > 0 && props.draw(width)}
    </div>
  );
}

function Legend(props: { names: string[] }) {
  return (
    <ul class="legend" aria-hidden="true">
      {props.names.map((name, k) => (
        <li key={name}>
          <span class={`swatch s${k % 6}`} />
          {name}
        </li>
      ))}
    </ul>
  );
}

/** Horizontal bars, one per row, with the count (and a note) after each bar. */
export function BarList(props: { label: string; rows: { name: string; value: number; note?: string }[] }) {
  return (
    <Measured
      draw={(width) => {
        const rowHeight = 30;
        const valueText = (r: { value: number; note?: string }) =>
          `${formatCount(r.value)}${r.note !== undefined ? ` · ${r.note}` : ''}`;
        // room for the longest label and the longest value text, the bars get the rest
        const labelWidth = Math.min(
          width * 0.42,
          16 + Math.max(0, ...props.rows.map((r) => textWidth(r.name))),
        );
        const valueWidth = 10 + Math.max(0, ...props.rows.map((r) => textWidth(valueText(r))));
        const barSpace = Math.max(30, width - labelWidth - valueWidth);
        const top = niceMax(Math.max(0, ...props.rows.map((r) => r.value)));
        const height = props.rows.length * rowHeight + 6;
        return (
          <svg
            class="chart"
            width={width}
            height={height}
            viewBox={`0 0 ${width} ${height}`}
            role="img"
            aria-label={props.label}
          >
            {props.rows.map((row, i) => {
              const y = 3 + i * rowHeight;
              const w = Math.max(row.value > 0 ? 2 : 0, scale(row.value, top, barSpace));
              return (
                <g key={row.name}>
                  <text x={labelWidth - 8} y={y + 19} class="chart-label" text-anchor="end">
                    {row.name}
                  </text>
                  <rect x={labelWidth} y={y + 4} width={barSpace} height={20} class="chart-track" />
                  <rect x={labelWidth} y={y + 4} width={w} height={20} class={`chart-bar s${i % 6}`} />
                  <text x={labelWidth + w + 6} y={y + 19} class="chart-value">
                    {valueText(row)}
                  </text>
                </g>
              );
            })}
          </svg>
        );
      }}
    />
  );
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  plotTop: number;
  plotHeight: number;
}

function frame(width: number): Frame {
  const height = 220;
  return { width, height, left: 40, right: 10, plotTop: 10, plotHeight: height - 34 };
}

function Axes(props: { f: Frame; top: number; categories: string[]; x: (i: number) => number }) {
  const { f } = props;
  const y = (v: number) => f.plotTop + f.plotHeight - scale(v, props.top, f.plotHeight);
  // as many category labels as fit, about 56 px each
  const room = Math.max(1, Math.floor((f.width - f.left - f.right) / 56));
  const every = Math.max(1, Math.ceil(props.categories.length / room));
  return (
    <>
      {ticks(props.top).map((t) => (
        <g key={t}>
          <line x1={f.left} x2={f.width - f.right} y1={y(t)} y2={y(t)} class="chart-grid" />
          <text x={f.left - 6} y={y(t) + 4} class="chart-axis" text-anchor="end">
            {formatCount(t)}
          </text>
        </g>
      ))}
      {props.categories.map((c, i) =>
        i % every === 0 ? (
          <text
            key={`${c}-${i}`}
            x={props.x(i)}
            y={f.plotTop + f.plotHeight + 16}
            class="chart-axis"
            text-anchor="middle"
          >
            {c}
          </text>
        ) : null,
      )}
    </>
  );
}

/** Lines over categories (weeks), one per series, with a legend. */
export function LineChart(props: { label: string; categories: string[]; series: Series[] }) {
  return (
    <>
      <Measured
        draw={(width) => {
          const f = frame(width);
          const n = props.categories.length;
          const top = niceMax(Math.max(0, ...props.series.flatMap((s) => s.values)));
          const span = f.width - f.left - f.right - 16;
          const x = (i: number) => f.left + 8 + (n <= 1 ? span / 2 : (i * span) / (n - 1));
          const y = (v: number) => f.plotTop + f.plotHeight - scale(v, top, f.plotHeight);
          return (
            <svg
              class="chart"
              width={width}
              height={f.height}
              viewBox={`0 0 ${width} ${f.height}`}
              role="img"
              aria-label={props.label}
            >
              <Axes f={f} top={top} categories={props.categories} x={x} />
              {props.series.map((s, k) => (
                <g key={s.name} class={`s${k % 6}`}>
                  <polyline class="chart-line" points={s.values.map((v, i) => `${x(i)},${y(v)}`).join(' ')} />
                  {s.values.map((v, i) => (
                    <circle key={i} cx={x(i)} cy={y(v)} r={3} class="chart-dot" />
                  ))}
                </g>
              ))}
            </svg>
          );
        }}
      />
      <Legend names={props.series.map((s) => s.name)} />
    </>
  );
}

/** Stacked bars over categories: each category's parts by series. */
export function StackedBars(props: { label: string; categories: string[]; series: Series[] }) {
  return (
    <>
      <Measured
        draw={(width) => {
          const f = frame(width);
          const n = Math.max(1, props.categories.length);
          const totals = props.categories.map((_, i) =>
            props.series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0),
          );
          const top = niceMax(Math.max(0, ...totals));
          const slot = (f.width - f.left - f.right) / n;
          const barWidth = Math.max(3, Math.min(36, slot * 0.7));
          const x = (i: number) => f.left + slot * i + slot / 2;
          return (
            <svg
              class="chart"
              width={width}
              height={f.height}
              viewBox={`0 0 ${width} ${f.height}`}
              role="img"
              aria-label={props.label}
            >
              <Axes f={f} top={top} categories={props.categories} x={x} />
              {props.categories.map((c, i) => {
                let base = f.plotTop + f.plotHeight;
                return (
                  <g key={`${c}-${i}`}>
                    {props.series.map((s, k) => {
                      const h = scale(s.values[i] ?? 0, top, f.plotHeight);
                      base -= h;
                      return h > 0 ? (
                        <rect
                          key={s.name}
                          x={x(i) - barWidth / 2}
                          y={base}
                          width={barWidth}
                          height={h}
                          class={`chart-bar s${k % 6}`}
                        />
                      ) : null;
                    })}
                  </g>
                );
              })}
            </svg>
          );
        }}
      />
      <Legend names={props.series.map((s) => s.name)} />
    </>
  );
}
