import type { PageProps } from '../app';
import { need } from '../api/client';
import { CircuitState, LastPoll, StateBadge, TokenState, boundedCount } from '../components/connector-state';
import { LoadState } from '../components/status';
import { useLoad } from '../components/use-load';
import { formatDuration } from '../lib/format';
import { href } from '../router';

export function ConnectorsPage({ client }: PageProps) {
  const connectors = useLoad(() => need(client.GET('/v1/connectors')), 'connectors');
  const now = Date.now();
  return (
    <>
      <h1>Connectors</h1>
      <p class="muted">
        Every instance in the hub's <code>connectors_dir</code>, and every scorer. Enabling or disabling one
        is configuration: it is kept in git, not changed here.
      </p>
      <button type="button" onClick={connectors.reload} disabled={connectors.loading}>
        Refresh
      </button>
      <LoadState loaded={connectors} what="the connectors">
        {(list) => (
          <div class="scroll">
            <table class="stack" aria-label="Connectors">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Plugin</th>
                  <th scope="col">Kind</th>
                  <th scope="col">State</th>
                  <th scope="col">Last good poll</th>
                  <th scope="col">Cursor age</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Token</th>
                  <th scope="col">Circuit</th>
                  <th scope="col" class="num">
                    Pending
                  </th>
                  <th scope="col" class="num">
                    Retrying
                  </th>
                  <th scope="col" class="num">
                    Dead
                  </th>
                  <th scope="col" class="num">
                    Done 24h
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.map((c) => (
                  <tr key={c.name}>
                    <th scope="row" data-label="Name">
                      <a href={href(`/connectors/${c.name}`)}>{c.name}</a>
                    </th>
                    <td data-label="Plugin">{c.plugin}</td>
                    <td data-label="Kind">{c.kind}</td>
                    <td data-label="State">
                      <StateBadge connector={c} />
                    </td>
                    <td data-label="Last good poll">
                      <LastPoll connector={c} now={now} />
                    </td>
                    <td data-label="Cursor age">
                      {c.cursor_age_seconds == null ? '–' : formatDuration(c.cursor_age_seconds)}
                    </td>
                    <td class="wrap" data-label="Last error">
                      {c.error ?? c.last_poll?.error ?? ''}
                    </td>
                    <td data-label="Token">
                      <TokenState connector={c} />
                    </td>
                    <td data-label="Circuit">
                      <CircuitState connector={c} />
                    </td>
                    <td class="num" data-label="Pending">
                      {c.deliveries ? boundedCount(c.deliveries.pending) : '–'}
                    </td>
                    <td class="num" data-label="Retrying">
                      {c.deliveries ? boundedCount(c.deliveries.retrying) : '–'}
                    </td>
                    <td class="num" data-label="Dead">
                      {c.deliveries && c.deliveries.dead > 0 ? (
                        <a href={href('/deliveries', { status: 'dead', destination: c.name })}>
                          {boundedCount(c.deliveries.dead)}
                        </a>
                      ) : c.deliveries ? (
                        '0'
                      ) : (
                        '–'
                      )}
                    </td>
                    <td class="num" data-label="Done 24h">
                      {c.deliveries ? boundedCount(c.deliveries.done_24h) : '–'}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </LoadState>
    </>
  );
}
