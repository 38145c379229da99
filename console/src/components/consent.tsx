// An instance's OAuth consent: its state as the hub stores it (any replica wrote it; never
// a token) and, for an admin, the way to consent again through the API
// (POST /v1/connectors/{name}/connect): the provider's page opens in a new tab, and this
// one follows GET /v1/connectors/{name}/health until the grant is stored.
import { useEffect, useState } from 'preact/hooks';

import { type Client, type Connector, errorText } from '../api/client';
import { formatDateTime } from '../lib/format';
import { Badge, type Tone } from './status';

type Consent = NonNullable<Connector['oauth']>;

const labels: Record<Consent['state'], { text: string; tone: Tone }> = {
  granted: { text: 'granted', tone: 'good' },
  needs_consent: { text: 'needs consent', tone: 'bad' },
  none: { text: 'no grant stored', tone: 'neutral' },
};

interface Started {
  url: string;
  expiresAt: string;
  grantedBefore: string | null;
}

/** What the consent looks like in one badge (the connectors' table). */
export function ConsentBadge(props: { consent: Consent }) {
  const c = props.consent;
  const days = c.refresh_token_days_left;
  if (c.state === 'granted' && days != null && c.action != null) {
    return <Badge tone="warn">{`consent ends in ${days}d`}</Badge>;
  }
  return <Badge tone={labels[c.state].tone}>{labels[c.state].text}</Badge>;
}

export function ConsentSection(props: {
  client: Client;
  name: string;
  consent: Consent;
  admin: boolean;
  onChange: () => void;
}) {
  const c = props.consent;
  const [started, setStarted] = useState<Started | null>(null);
  const [message, setMessage] = useState<string | undefined>(undefined);

  // Once begun, follow the instance until a newer grant is stored or the consent expires.
  useEffect(() => {
    if (started === null) {
      return;
    }
    if (c.state === 'granted' && c.granted_at !== started.grantedBefore) {
      setStarted(null);
      setMessage(
        `Consent stored ${formatDateTime(c.granted_at)}: the instance uses it from its next poll (Sync now polls at once).`,
      );
      return;
    }
    if (Date.now() > Date.parse(started.expiresAt)) {
      setStarted(null);
      setMessage('The consent was not completed in time; begin again.');
      return;
    }
    const timer = setTimeout(props.onChange, 2000);
    return () => clearTimeout(timer);
  }, [started, c.state, c.granted_at]);

  const begin = async () => {
    setMessage(undefined);
    const { data, error, response } = await props.client.POST('/v1/connectors/{name}/connect', {
      params: { path: { name: props.name } },
    });
    if (data === undefined) {
      setMessage(`Consent could not begin: ${errorText(error, response)}`);
      return;
    }
    setStarted({ url: data.authorization_url, expiresAt: data.expires_at, grantedBefore: c.granted_at });
    // the provider's page in a tab of its own, which cannot reach back into this one
    window.open(data.authorization_url, '_blank', 'noopener,noreferrer');
  };

  return (
    <section aria-labelledby="consent-title" class="card">
      <h2 id="consent-title">OAuth consent</h2>
      <dl class="facts">
        <dt>Grant</dt>
        <dd data-field="consent-state">
          <Badge tone={labels[c.state].tone}>{labels[c.state].text}</Badge>
          {c.reason != null && <span class="error-text"> {c.reason}</span>}
        </dd>
        <dt>Granted</dt>
        <dd>{formatDateTime(c.granted_at)}</dd>
        <dt>Refresh token ends</dt>
        <dd>
          {c.refresh_token_expires_at == null
            ? 'not said by the provider'
            : `${formatDateTime(c.refresh_token_expires_at)} (${c.refresh_token_days_left ?? 0} days left)`}
        </dd>
      </dl>
      {props.admin ? (
        started === null ? (
          <button type="button" onClick={() => void begin()}>
            {c.state === 'none' ? 'Connect' : 'Consent again'}
          </button>
        ) : (
          <p role="status" class="notice">
            Sign in at the provider in the tab that opened (or{' '}
            <a href={started.url} target="_blank" rel="noopener noreferrer">
              open its consent page
            </a>
            ) before {formatDateTime(started.expiresAt)}; this page shows the grant once it is stored.
          </p>
        )
      ) : (
        <p class="muted">
          Consent needs the admin scope
          {c.action != null ? (
            <>
              {' '}
              (or, where the hub runs: <code>{c.action.cli}</code>)
            </>
          ) : null}
          .
        </p>
      )}
      {message !== undefined && (
        <p role="status" class="notice">
          {message}
        </p>
      )}
    </section>
  );
}
