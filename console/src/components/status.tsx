import type { ComponentChildren } from 'preact';

import type { Loaded } from './use-load';

/** The loading and error states every page shares; children render once data is there. */
export function LoadState<T>(props: {
  loaded: Loaded<T>;
  what: string;
  children: (data: T) => ComponentChildren;
}) {
  const { data, error, loading } = props.loaded;
  return (
    <>
      {error !== undefined && (
        <p class="error" role="alert">
          Could not load {props.what}: {error}
        </p>
      )}
      {data === undefined && loading && (
        <p class="muted" aria-live="polite">
          Loading {props.what}…
        </p>
      )}
      {data !== undefined && props.children(data)}
    </>
  );
}

export type Tone = 'good' | 'warn' | 'bad' | 'neutral';

export function Badge(props: { tone: Tone; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge badge-${props.tone}`} title={props.title}>
      {props.children}
    </span>
  );
}
