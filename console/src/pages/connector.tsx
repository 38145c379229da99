import { useState } from 'preact/hooks';

import type { PageProps } from '../app';
import { errorText, need } from '../api/client';
import { CircuitState, LastPoll, StateBadge, TokenState, boundedCount } from '../components/connector-state';
import { ConsentSection } from '../components/consent';
import { Badge, LoadState } from '../components/status';
import { useLoad } from '../components/use-load';
import { formatAgo, formatCount, formatDateTime, formatDuration } from '../lib/format';
import { href } from '../router';
import { canAdmin } from '../session';

export function ConnectorPage({ client, session, name }: PageProps & { name: string }) {
  const health = useLoad(
    () => need(client.GET('/v1/connectors/{name}/health', { params: { path: { name } } })),
    name,
  );
  const [message, setMessage] = useState<string | undefined>(undefined);
  const now = Date.now();

  const sync = async () => {
    setMessage('Asking for a poll…');
    const { error, response } = await client.POST('/v1/connectors/{name}/sync', {
      params: { path: { name } },
    });
    setMessage(
      response.status === 202
        ? 'A poll was requested; its outcome shows under "Last poll" once it ran.'
        : `The poll was not requested: ${errorText(error, response)}`,
    );
    setTimeout(health.reload, 1500);
  };

  return (
    <>
      <p>
        <a href={href('/connectors')}>← Connectors</a>
      </p>
      <h1>{name}</h1>
      <LoadState loaded={health} what={`the health of ${name}`}>
        {({ connector: c, delivery_errors: errors }) => (
          <>
            <dl class="facts">
              <dt>Plugin</dt>
              <dd>
                {c.plugin} ({c.kind})
              </dd>
              <dt>State</dt>
              <dd>
                <StateBadge connector={c} />
                {c.error != null && <span class="error-text"> {c.error}</span>}
              </dd>
              <dt>Last good poll</dt>
              <dd>
                <LastPoll connector={c} now={now} />
              </dd>
              <dt>Last poll</dt>
              <dd>
                {c.last_poll == null ? (
                  <span class="muted">none yet</span>
                ) : (
                  <>
                    {formatAgo(c.last_poll.finished_at ?? c.last_poll.started_at, now)}:{' '}
                    <Badge tone={c.last_poll.outcome === 'ok' ? 'good' : 'bad'}>
                      {c.last_poll.outcome ?? 'running'}
                    </Badge>
                    {c.last_poll.events != null && <> · {formatCount(c.last_poll.events)} new events</>}
                    {c.last_poll.owner != null && <span class="muted"> · by {c.last_poll.owner}</span>}
                    {(c.consecutive_failures ?? 0) > 1 && <> · {c.consecutive_failures} failures in a row</>}
                  </>
                )}
              </dd>
              <dt>Last error</dt>
              <dd class="error-text" data-field="last-error">
                {c.last_poll?.error ?? c.error ?? <span class="muted">none</span>}
              </dd>
              <dt>Cursor</dt>
              <dd>
                {c.cursor_updated_at == null
                  ? 'never saved'
                  : `saved ${formatDuration(c.cursor_age_seconds ?? 0)} ago (${formatDateTime(c.cursor_updated_at)})`}
              </dd>
              <dt>OAuth token</dt>
              <dd>
                <TokenState connector={c} />
              </dd>
              <dt>Delivery circuit</dt>
              <dd>
                <CircuitState connector={c} />
              </dd>
              <dt>Deliveries</dt>
              <dd>
                {c.deliveries ? (
                  <>
                    {boundedCount(c.deliveries.pending)} pending, {boundedCount(c.deliveries.retrying)}{' '}
                    retrying,{' '}
                    <a href={href('/deliveries', { status: 'dead', destination: c.name })}>
                      {boundedCount(c.deliveries.dead)} dead
                    </a>
                    , {boundedCount(c.deliveries.done_24h)} done in 24h
                  </>
                ) : (
                  '–'
                )}
              </dd>
            </dl>

            {c.attention.length > 0 && (
              <section aria-labelledby="attention-title" class="card">
                <h2 id="attention-title">Needs attention</h2>
                <ul class="attention">
                  {c.attention.map((a) => (
                    <li key={a.code}>
                      <Badge tone="warn">{a.code.replace(/_/g, ' ')}</Badge> {a.message}
                    </li>
                  ))}
                </ul>
              </section>
            )}

            {c.oauth != null && (
              <ConsentSection
                client={client}
                name={c.name}
                consent={c.oauth}
                admin={canAdmin(session)}
                onChange={health.reload}
              />
            )}

            <section aria-labelledby="actions-title" class="card">
              <h2 id="actions-title">Actions</h2>
              {canAdmin(session) ? (
                <>
                  {c.poll_interval_seconds != null && c.enabled && (
                    <button type="button" onClick={sync}>
                      Sync now
                    </button>
                  )}
                  {message !== undefined && (
                    <p role="status" class="notice">
                      {message}
                    </p>
                  )}
                </>
              ) : (
                <p class="muted">This token may only read: actions need the admin scope.</p>
              )}
              <p class="muted">
                To enable or disable <code>{c.name}</code>, change <code>enabled</code> in its file in the
                hub's <code>connectors_dir</code> (kept in git) and reload the hub.
              </p>
            </section>

            <section aria-labelledby="errors-title" class="card">
              <h2 id="errors-title">Recent delivery errors</h2>
              {errors.length === 0 ? (
                <p class="muted">No dead or retrying deliveries to {c.name}.</p>
              ) : (
                <div class="scroll">
                  <table aria-label="Recent delivery errors">
                    <thead>
                      <tr>
                        <th scope="col">Status</th>
                        <th scope="col">Error</th>
                        <th scope="col" class="num">
                          Deliveries
                        </th>
                        <th scope="col">Latest</th>
                      </tr>
                    </thead>
                    <tbody>
                      {errors.map((e) => (
                        <tr key={`${e.status}-${e.error ?? ''}`}>
                          <td>{e.status}</td>
                          <td class="wrap">{e.error ?? '–'}</td>
                          <td class="num">{formatCount(e.count)}</td>
                          <td>{formatDateTime(e.last_at)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </section>
          </>
        )}
      </LoadState>
    </>
  );
}
