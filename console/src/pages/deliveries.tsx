import { useEffect, useRef, useState } from 'preact/hooks';

import type { PageProps } from '../app';
import { type Client, type Delivery, type DeliveryStatus, errorText, need } from '../api/client';
import { Badge, LoadState, type Tone } from '../components/status';
import { useLoad } from '../components/use-load';
import { formatDateTime } from '../lib/format';
import { href } from '../router';
import { canAdmin } from '../session';

const statuses: DeliveryStatus[] = ['dead', 'retrying', 'held', 'pending', 'done'];

const tones: Record<DeliveryStatus, Tone> = {
  dead: 'bad',
  retrying: 'warn',
  held: 'neutral',
  pending: 'neutral',
  done: 'good',
};

interface Filter {
  status: DeliveryStatus;
  destination: string;
  route: string;
  error: string;
  after: string;
}

function filterOf(query: URLSearchParams): Filter {
  const status = query.get('status') as DeliveryStatus | null;
  return {
    status: status !== null && statuses.includes(status) ? status : 'dead',
    destination: query.get('destination') ?? '',
    route: query.get('route') ?? '',
    error: query.get('error') ?? '',
    after: query.get('after') ?? '',
  };
}

/** The API's query for a filter: empty fields left out (the API refuses empty ones). */
function listQuery(f: Filter) {
  return {
    status: f.status,
    limit: 50,
    ...(f.destination !== '' ? { destination: f.destination } : {}),
    ...(f.route !== '' ? { route: f.route } : {}),
    ...(f.error !== '' ? { error: f.error } : {}),
    ...(f.after !== '' ? { after: Number(f.after) } : {}),
  };
}

export function DeliveriesPage({ client, session, route }: PageProps) {
  const filter = filterOf(route.query);
  const key = JSON.stringify(filter);
  const page = useLoad(
    () => need(client.GET('/v1/deliveries', { params: { query: listQuery(filter) } })),
    key,
  );
  const sinks = useLoad(() => need(client.GET('/v1/connectors')), 'connectors');
  const [replayed, setReplayed] = useState<number[]>([]);
  const admin = canAdmin(session);

  const go = (next: Partial<Filter>) => {
    const f = { ...filter, after: '', ...next };
    location.hash = href('/deliveries', {
      status: f.status,
      destination: f.destination,
      route: f.route,
      error: f.error,
      after: f.after,
    });
  };

  return (
    <>
      <h1>Deliveries</h1>
      <p class="muted">
        What the hub sends to sink connectors. Dead deliveries ran out of attempts; retrying ones wait for
        their next try. Replaying puts a dead delivery back in the queue with its attempts reset.
      </p>
      <FilterForm
        filter={filter}
        destinations={
          sinks.data?.data.filter((c) => c.kind === 'sink' || c.kind === 'both').map((c) => c.name) ?? []
        }
        onApply={go}
      />
      {admin && filter.status === 'dead' && (
        <ReplayMatching client={client} filter={filter} onDone={page.reload} />
      )}
      {replayed.length > 0 && <Replayed client={client} ids={replayed} />}
      <LoadState loaded={page} what="the deliveries">
        {(list) =>
          list.data.length === 0 ? (
            <p class="muted">No {filter.status} deliveries match.</p>
          ) : (
            <>
              <div class="scroll">
                <table class="stack" aria-label={`${filter.status} deliveries`}>
                  <thead>
                    <tr>
                      <th scope="col" class="num">
                        Id
                      </th>
                      <th scope="col">Destination</th>
                      <th scope="col">Route</th>
                      <th scope="col">Status</th>
                      <th scope="col" class="num">
                        Attempts
                      </th>
                      <th scope="col">Last error</th>
                      <th scope="col">Updated</th>
                      {admin && <th scope="col">Action</th>}
                    </tr>
                  </thead>
                  <tbody>
                    {list.data.map((d) => (
                      <tr key={d.id}>
                        <td class="num" data-label="Id">
                          {d.id}
                        </td>
                        <td data-label="Destination">
                          <a href={href(`/connectors/${d.destination}`)}>{d.destination}</a>
                        </td>
                        <td data-label="Route">{d.route}</td>
                        <td data-label="Status">
                          <Badge tone={tones[d.status]}>{d.status}</Badge>
                        </td>
                        <td class="num" data-label="Attempts">
                          {d.attempts}
                        </td>
                        <td class="wrap" data-label="Last error">
                          {d.status === 'held' && d.hold_reason != null
                            ? `held: ${d.hold_reason}`
                            : (d.last_error ?? '')}
                        </td>
                        <td data-label="Updated">{formatDateTime(d.updated_at)}</td>
                        {admin && (
                          <td data-label="Action">
                            {d.status === 'dead' && !replayed.includes(d.id) && (
                              <ReplayOne
                                client={client}
                                delivery={d}
                                onReplayed={() => setReplayed((r) => [d.id, ...r])}
                              />
                            )}
                          </td>
                        )}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {list.next !== null && (
                <p>
                  <a href={href('/deliveries', { ...filter, after: list.next })}>Next page</a>
                </p>
              )}
            </>
          )
        }
      </LoadState>
    </>
  );
}

function FilterForm(props: {
  filter: Filter;
  destinations: string[];
  onApply: (f: Partial<Filter>) => void;
}) {
  const [draft, setDraft] = useState(props.filter);
  // follows the filter when it changes, not on the first render (see LeadsPage)
  const key = JSON.stringify(props.filter);
  const shownKey = useRef(key);
  useEffect(() => {
    if (shownKey.current !== key) {
      shownKey.current = key;
      setDraft(props.filter);
    }
  }, [key]);
  return (
    <form
      class="filters"
      aria-label="Filter deliveries"
      onSubmit={(e) => {
        e.preventDefault();
        props.onApply(draft);
      }}
    >
      <div class="field">
        <label for="d-status">Status</label>
        <select
          id="d-status"
          value={draft.status}
          onChange={(e) => setDraft({ ...draft, status: e.currentTarget.value as DeliveryStatus })}
        >
          {statuses.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="d-destination">Destination</label>
        <select
          id="d-destination"
          value={draft.destination}
          onChange={(e) => setDraft({ ...draft, destination: e.currentTarget.value })}
        >
          <option value="">any</option>
          {[...new Set([...props.destinations, ...(draft.destination ? [draft.destination] : [])])].map(
            (d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ),
          )}
        </select>
      </div>
      <div class="field">
        <label for="d-route">Route</label>
        <input
          id="d-route"
          value={draft.route}
          onInput={(e) => setDraft({ ...draft, route: e.currentTarget.value })}
        />
      </div>
      <div class="field">
        <label for="d-error">Error contains</label>
        <input
          id="d-error"
          value={draft.error}
          onInput={(e) => setDraft({ ...draft, error: e.currentTarget.value })}
        />
      </div>
      <button type="submit">Filter</button>
    </form>
  );
}

function ReplayOne(props: { client: Client; delivery: Delivery; onReplayed: () => void }) {
  const [problem, setProblem] = useState<string | undefined>(undefined);
  return (
    <>
      <button
        type="button"
        aria-label={`Replay delivery ${props.delivery.id}`}
        onClick={async () => {
          const { error, response } = await props.client.POST('/v1/deliveries/{id}/replay', {
            params: { path: { id: props.delivery.id } },
          });
          if (response.status === 202) {
            props.onReplayed();
          } else {
            setProblem(errorText(error, response));
          }
        }}
      >
        Replay
      </button>
      {problem !== undefined && (
        <span class="error" role="alert">
          {' '}
          {problem}
        </span>
      )}
    </>
  );
}

/** The replayed deliveries, refreshed until each is done or dead again. */
function Replayed(props: { client: Client; ids: number[] }) {
  const [rows, setRows] = useState<Record<number, Delivery>>({});
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const started = Date.now();
    const refresh = async () => {
      const found: Record<number, Delivery> = {};
      for (const id of props.ids) {
        // the page of one delivery: the first id after the one before it
        const { data } = await props.client.GET('/v1/deliveries', {
          params: { query: { after: id - 1 || undefined, limit: 1 } },
        });
        const row = data?.data[0];
        if (row !== undefined && row.id === id) {
          found[id] = row;
        }
      }
      if (stopped) {
        return;
      }
      setRows(found);
      const open = props.ids.some(
        (id) =>
          found[id] === undefined || found[id]?.status === 'pending' || found[id]?.status === 'retrying',
      );
      if (open && Date.now() - started < 120_000) {
        timer = setTimeout(refresh, 1500);
      }
    };
    void refresh();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [props.ids.join(',')]);
  return (
    <section aria-labelledby="replayed-title" class="card">
      <h2 id="replayed-title">Replayed</h2>
      <ul aria-live="polite">
        {props.ids.map((id) => {
          const row = rows[id];
          return (
            <li key={id} data-delivery={id}>
              Delivery {id} to {row?.destination ?? '…'}:{' '}
              {row === undefined ? 'queued' : <Badge tone={tones[row.status]}>{row.status}</Badge>}
              {row?.status === 'dead' && row.last_error != null && (
                <span class="error-text"> {row.last_error}</span>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function ReplayMatching(props: { client: Client; filter: Filter; onDone: () => void }) {
  const [count, setCount] = useState<number | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const body = {
    ...(props.filter.destination !== '' ? { destination: props.filter.destination } : {}),
    ...(props.filter.route !== '' ? { route: props.filter.route } : {}),
    ...(props.filter.error !== '' ? { error: props.filter.error } : {}),
  };
  const filtered = Object.keys(body).length > 0;
  const request = filtered ? body : { all: true };
  useEffect(() => {
    setCount(undefined);
    setMessage(undefined);
  }, [JSON.stringify(body)]);
  return (
    <div class="card replay-all">
      {count === undefined ? (
        <button
          type="button"
          onClick={async () => {
            const { data, error, response } = await props.client.POST('/v1/deliveries/replay', {
              body: { ...request, dry_run: true },
            });
            if (data !== undefined && 'would_replay' in data) {
              setCount(data.would_replay);
            } else {
              setMessage(errorText(error, response));
            }
          }}
        >
          Replay all matching…
        </button>
      ) : count === 0 ? (
        <p>No dead deliveries match this filter.</p>
      ) : (
        <p role="alertdialog" aria-label="Confirm the replay">
          {count} dead deliver{count === 1 ? 'y matches' : 'ies match'}
          {filtered ? ' this filter' : ' (every dead delivery)'}.{' '}
          <button
            type="button"
            onClick={async () => {
              const { data, error, response } = await props.client.POST('/v1/deliveries/replay', {
                body: request,
              });
              setCount(undefined);
              setMessage(
                data !== undefined && 'replayed' in data
                  ? `Replayed ${data.replayed} deliver${data.replayed === 1 ? 'y' : 'ies'}.`
                  : errorText(error, response),
              );
              props.onDone();
            }}
          >
            Replay {count}
          </button>{' '}
          <button type="button" class="secondary" onClick={() => setCount(undefined)}>
            Cancel
          </button>
        </p>
      )}
      {message !== undefined && (
        <p role="status" class="notice">
          {message}
        </p>
      )}
    </div>
  );
}
