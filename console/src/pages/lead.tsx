import { useEffect, useState } from 'preact/hooks';

import type { PageProps } from '../app';
import { type Score, type TimelineEntry, errorText, need } from '../api/client';
import { Badge, LoadState } from '../components/status';
import { useLoad } from '../components/use-load';
import { formatDateTime, leadName } from '../lib/format';
import { href } from '../router';

export function LeadPage({ client, id }: PageProps & { id: number }) {
  const lead = useLoad(() => need(client.GET('/v1/leads/{id}', { params: { path: { id } } })), String(id));
  return (
    <>
      <p>
        <a href={href('/leads')}>← Leads</a>
      </p>
      <LoadState loaded={lead} what={`lead ${id}`}>
        {(l) => (
          <>
            <h1>{leadName(l)}</h1>
            <dl class="facts">
              <dt>Email</dt>
              <dd>{l.email ?? '–'}</dd>
              <dt>Company</dt>
              <dd>{l.company ?? '–'}</dd>
              <dt>Title</dt>
              <dd>{l.title ?? '–'}</dd>
              <dt>Known since</dt>
              <dd>{formatDateTime(l.created_at)}</dd>
            </dl>

            <section aria-labelledby="scores-title" class="card">
              <h2 id="scores-title">Scores</h2>
              {l.scores.length === 0 ? (
                <p class="muted">No scorer has scored this lead.</p>
              ) : (
                l.scores.map((s) => <ScoreCard key={s.scorer} score={s} />)
              )}
            </section>

            <section aria-labelledby="identities-title" class="card">
              <h2 id="identities-title">Identities</h2>
              {l.identities.length === 0 ? (
                <p class="muted">Known by email only.</p>
              ) : (
                <table aria-label="Identities">
                  <thead>
                    <tr>
                      <th scope="col">System</th>
                      <th scope="col">Id there</th>
                    </tr>
                  </thead>
                  <tbody>
                    {l.identities.map((i) => (
                      <tr key={`${i.source}-${i.external_id}`}>
                        <td>{i.source}</td>
                        <td>
                          <code>{i.external_id}</code>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>

            <section aria-labelledby="lead-meetings-title" class="card">
              <h2 id="lead-meetings-title">Meetings</h2>
              {l.meetings.length === 0 ? (
                <p class="muted">No meetings.</p>
              ) : (
                <ul class="plain">
                  {l.meetings.map((m) => (
                    <li key={m.id}>
                      {formatDateTime(m.starts_at)} · {m.title ?? 'untitled'} ·{' '}
                      <Badge tone={m.status === 'canceled' || m.status === 'no_show' ? 'neutral' : 'good'}>
                        {m.status}
                      </Badge>{' '}
                      <span class="muted">({m.source})</span>
                    </li>
                  ))}
                </ul>
              )}
            </section>

            <Timeline client={client} id={id} />
          </>
        )}
      </LoadState>
    </>
  );
}

function ScoreCard(props: { score: Score }) {
  const s = props.score;
  return (
    <article class="score" aria-labelledby={`score-${s.scorer}`}>
      <h3 id={`score-${s.scorer}`}>
        {s.scorer}: {s.score} <Badge tone={s.band === 'none' ? 'neutral' : 'good'}>{s.band}</Badge>
      </h3>
      <table aria-label={`Why ${s.scorer} scored ${s.score}`}>
        <thead>
          <tr>
            <th scope="col">Rule</th>
            <th scope="col" class="num">
              Points
            </th>
            <th scope="col">Why</th>
          </tr>
        </thead>
        <tbody>
          {s.explanation.map((c, i) => {
            const rule = typeof c.rule === 'string' ? c.rule : `#${i + 1}`;
            const points = typeof c.points === 'number' ? c.points : 0;
            return (
              <tr key={i}>
                <td>{rule}</td>
                <td class="num">{points > 0 ? `+${points}` : String(points)}</td>
                <td class="wrap">{typeof c.why === 'string' ? c.why : ''}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p class="muted">Scored {formatDateTime(s.scored_at)}.</p>
    </article>
  );
}

function Timeline(props: { client: PageProps['client']; id: number }) {
  const [entries, setEntries] = useState<TimelineEntry[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);

  const load = async (before: string | null, reset: boolean) => {
    setLoading(true);
    const { data, error, response } = await props.client.GET('/v1/leads/{id}/timeline', {
      params: {
        path: { id: props.id },
        query: { limit: 25, ...(before !== null ? { before: Number(before) } : {}) },
      },
    });
    setLoading(false);
    if (data === undefined) {
      setProblem(errorText(error, response));
      return;
    }
    setProblem(undefined);
    setEntries((old) => (reset ? data.data : [...old, ...data.data]));
    setNext(data.next);
  };
  useEffect(() => {
    void load(null, true);
  }, [props.id]);

  return (
    <section aria-labelledby="timeline-title" class="card">
      <h2 id="timeline-title">Timeline</h2>
      {problem !== undefined && (
        <p class="error" role="alert">
          Could not load the timeline: {problem}
        </p>
      )}
      {entries.length === 0 && !loading && problem === undefined && <p class="muted">No events.</p>}
      <ol class="timeline">
        {entries.map((e) => (
          <li key={e.id}>
            <time dateTime={e.occurred_at}>{formatDateTime(e.occurred_at)}</time> <strong>{e.type}</strong>{' '}
            <span class="muted">from {e.source}</span>
            {e.meeting != null && (
              <span>
                {' '}
                · {e.meeting.title ?? 'meeting'} on {formatDateTime(e.meeting.starts_at)} ({e.meeting.status})
              </span>
            )}
            {e.data != null && Object.keys(e.data).length > 0 && (
              <span class="muted">
                {' '}
                ·{' '}
                {Object.entries(e.data)
                  .slice(0, 4)
                  .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
                  .join(', ')}
              </span>
            )}
          </li>
        ))}
      </ol>
      {next !== null && (
        <button type="button" disabled={loading} onClick={() => void load(next, false)}>
          Older events
        </button>
      )}
    </section>
  );
}
