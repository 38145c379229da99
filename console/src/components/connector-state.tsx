import type { Connector } from '../api/client';
import { formatAgo, formatDuration } from '../lib/format';
import { ConsentBadge } from './consent';
import { Badge, type Tone } from './status';

/** One word for how an instance is: disabled, failing, needs attention, running. */
export function connectorState(c: Connector): { label: string; tone: Tone } {
  if (!c.enabled) {
    return { label: 'disabled', tone: 'neutral' };
  }
  if (!c.initialized) {
    return { label: 'not running', tone: 'bad' };
  }
  if (c.attention.length > 0) {
    return { label: 'needs attention', tone: 'warn' };
  }
  return { label: 'running', tone: 'good' };
}

export function StateBadge(props: { connector: Connector }) {
  const state = connectorState(props.connector);
  return <Badge tone={state.tone}>{state.label}</Badge>;
}

export function TokenState(props: { connector: Connector }) {
  const token = props.connector.token;
  if (props.connector.oauth != null && (token === 'none' || token === 'needs_consent')) {
    return <ConsentBadge consent={props.connector.oauth} />;
  }
  const tone: Tone =
    token === 'failed' || token === 'needs_consent' ? 'bad' : token === 'refreshing' ? 'warn' : 'neutral';
  return token === 'none' ? <span class="muted">no OAuth</span> : <Badge tone={tone}>{token}</Badge>;
}

export function CircuitState(props: { connector: Connector }) {
  const circuit = props.connector.circuit;
  if (circuit == null) {
    return <span class="muted">–</span>;
  }
  return <Badge tone={circuit === 'closed' ? 'good' : 'bad'}>{circuit.replace('_', ' ')}</Badge>;
}

export function LastPoll(props: { connector: Connector; now: number }) {
  const c = props.connector;
  if (c.poll_interval_seconds == null) {
    return <span class="muted">does not poll</span>;
  }
  return (
    <span>
      {formatAgo(c.last_success_at, props.now)}
      <span class="muted"> · every {formatDuration(c.poll_interval_seconds)}</span>
    </span>
  );
}

/** 1000 means "1000 or more" in the API's bounded counts. */
export function boundedCount(n: number): string {
  return n >= 1000 ? '1000+' : String(n);
}
