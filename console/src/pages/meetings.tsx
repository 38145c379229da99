import type { PageProps } from '../app';
import { type Client, type Meeting, need } from '../api/client';
import { Badge, LoadState, type Tone } from '../components/status';
import { useLoad } from '../components/use-load';
import { formatDateTime } from '../lib/format';
import { href } from '../router';

const DAY_MS = 86_400_000;
const PAGES_MAX = 10; /* 5000 meetings in a window: enough for a page people read */

/** Every meeting starting in [since, until), gathered page by page, in time order. */
async function meetingsBetween(client: Client, since: Date, until: Date): Promise<Meeting[]> {
  const found: Meeting[] = [];
  let after: number | undefined;
  for (let page = 0; page < PAGES_MAX; page++) {
    const list = await need(
      client.GET('/v1/meetings', {
        params: {
          query: {
            since: since.toISOString(),
            until: until.toISOString(),
            limit: 500,
            ...(after !== undefined ? { after } : {}),
          },
        },
      }),
    );
    found.push(...list.data);
    if (list.next === null) {
      break;
    }
    after = Number(list.next);
  }
  return found.sort((a, b) => (a.starts_at ?? '').localeCompare(b.starts_at ?? '') || a.id - b.id);
}

function statusTone(status: string): Tone {
  return status === 'canceled' || status === 'no_show' ? 'neutral' : status === 'held' ? 'good' : 'warn';
}

export function MeetingsPage({ client, route }: PageProps) {
  const past = route.query.get('when') === 'past';
  const now = Date.now();
  const key = past ? 'past' : 'upcoming';
  const meetings = useLoad(() => {
    const since = past ? new Date(now - 30 * DAY_MS) : new Date(now);
    const until = past ? new Date(now) : new Date(now + 30 * DAY_MS);
    return meetingsBetween(client, since, until).then((list) => (past ? list.reverse() : list));
  }, key);
  return (
    <>
      <h1>Meetings</h1>
      <nav aria-label="Which meetings" class="tabs">
        <a href={href('/meetings')} aria-current={!past ? 'page' : undefined}>
          Next 30 days
        </a>
        <a href={href('/meetings', { when: 'past' })} aria-current={past ? 'page' : undefined}>
          Last 30 days
        </a>
      </nav>
      <p class="muted">
        Status as the calendars and the CRM report it (scheduled, rescheduled, canceled, held, no-show); a
        meeting that ended uncanceled with an accepted attendee is held unless its source says otherwise.
      </p>
      <LoadState loaded={meetings} what="the meetings">
        {(list) =>
          list.length === 0 ? (
            <p class="muted">No meetings {past ? 'in the last' : 'in the next'} 30 days.</p>
          ) : (
            <div class="scroll">
              <table class="stack" aria-label={past ? 'Past meetings' : 'Upcoming meetings'}>
                <thead>
                  <tr>
                    <th scope="col">Starts</th>
                    <th scope="col">Title</th>
                    <th scope="col">Status</th>
                    <th scope="col">Lead</th>
                    <th scope="col">Organizer</th>
                    <th scope="col">Source</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((m) => (
                    <tr key={m.id}>
                      <td data-label="Starts">{formatDateTime(m.starts_at)}</td>
                      <td data-label="Title">{m.title ?? '–'}</td>
                      <td data-label="Status">
                        <Badge tone={statusTone(m.status)}>{m.status}</Badge>
                      </td>
                      <td data-label="Lead">
                        {m.lead_id != null ? <a href={href(`/leads/${m.lead_id}`)}>lead {m.lead_id}</a> : '–'}
                      </td>
                      <td data-label="Organizer">{m.organizer?.name ?? m.organizer?.email ?? '–'}</td>
                      <td data-label="Source">{m.source}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </LoadState>
    </>
  );
}
