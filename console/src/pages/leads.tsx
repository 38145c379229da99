import { useEffect, useRef, useState } from 'preact/hooks';

import type { PageProps } from '../app';
import { need } from '../api/client';
import { LoadState } from '../components/status';
import { useLoad } from '../components/use-load';
import { formatDateTime, leadName } from '../lib/format';
import { href } from '../router';

const fields = ['email', 'company', 'source', 'scorer', 'band'] as const;
type Search = Record<(typeof fields)[number] | 'after', string>;

function searchOf(query: URLSearchParams): Search {
  return {
    email: query.get('email') ?? '',
    company: query.get('company') ?? '',
    source: query.get('source') ?? '',
    scorer: query.get('scorer') ?? '',
    band: query.get('band') ?? '',
    after: query.get('after') ?? '',
  };
}

export function LeadsPage({ client, route }: PageProps) {
  const search = searchOf(route.query);
  const [draft, setDraft] = useState(search);
  const key = JSON.stringify(search);
  // The form follows the address when it changes (back, a link), not on the first render:
  // an effect run after it would wipe what was typed meanwhile.
  const shownKey = useRef(key);
  useEffect(() => {
    if (shownKey.current !== key) {
      shownKey.current = key;
      setDraft(search);
    }
  }, [key]);
  const bandWithoutScorer = search.band !== '' && search.scorer === '';
  const leads = useLoad(() => {
    if (bandWithoutScorer) {
      return Promise.reject(new Error('a band belongs to a scorer: pick the scorer too'));
    }
    const query: Record<string, string | number> = { limit: 50 };
    for (const f of fields) {
      if (search[f] !== '') {
        query[f] = search[f];
      }
    }
    if (search.after !== '') {
      query.after = Number(search.after);
    }
    return need(client.GET('/v1/leads', { params: { query } }));
  }, key);
  const scorers = useLoad(
    () =>
      need(client.GET('/v1/connectors')).then((list) =>
        list.data.filter((c) => c.kind === 'scorer').map((c) => c.name),
      ),
    'scorers',
  );

  return (
    <>
      <h1>Leads</h1>
      <form
        class="filters"
        aria-label="Search leads"
        onSubmit={(e) => {
          e.preventDefault();
          location.hash = href('/leads', { ...draft, after: undefined });
        }}
      >
        <div class="field">
          <label for="l-email">Email</label>
          <input
            id="l-email"
            type="email"
            value={draft.email}
            onInput={(e) => setDraft({ ...draft, email: e.currentTarget.value })}
          />
        </div>
        <div class="field">
          <label for="l-company">Company</label>
          <input
            id="l-company"
            value={draft.company}
            onInput={(e) => setDraft({ ...draft, company: e.currentTarget.value })}
          />
        </div>
        <div class="field">
          <label for="l-source">Source</label>
          <input
            id="l-source"
            value={draft.source}
            onInput={(e) => setDraft({ ...draft, source: e.currentTarget.value })}
          />
        </div>
        <div class="field">
          <label for="l-scorer">Scorer</label>
          <select
            id="l-scorer"
            value={draft.scorer}
            onChange={(e) => setDraft({ ...draft, scorer: e.currentTarget.value })}
          >
            <option value="">any</option>
            {(scorers.data ?? []).map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="l-band">Score band</label>
          <input
            id="l-band"
            value={draft.band}
            placeholder="hot, warm, none…"
            onInput={(e) => setDraft({ ...draft, band: e.currentTarget.value })}
          />
        </div>
        <button type="submit">Search</button>
      </form>
      <LoadState loaded={leads} what="the leads">
        {(page) =>
          page.data.length === 0 ? (
            <p class="muted">No lead matches.</p>
          ) : (
            <>
              <div class="scroll">
                <table class="stack" aria-label="Leads">
                  <thead>
                    <tr>
                      <th scope="col">Lead</th>
                      <th scope="col">Email</th>
                      <th scope="col">Company</th>
                      <th scope="col">Title</th>
                      <th scope="col">Scores</th>
                      <th scope="col">Updated</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.data.map((lead) => (
                      <tr key={lead.id}>
                        <th scope="row" data-label="Lead">
                          <a href={href(`/leads/${lead.id}`)}>{leadName(lead)}</a>
                        </th>
                        <td data-label="Email">{lead.email ?? '–'}</td>
                        <td data-label="Company">{lead.company ?? '–'}</td>
                        <td data-label="Title">{lead.title ?? '–'}</td>
                        <td data-label="Scores">
                          {Object.entries(lead.scores)
                            .map(([scorer, score]) => `${scorer} ${score}`)
                            .join(', ') || '–'}
                        </td>
                        <td data-label="Updated">{formatDateTime(lead.updated_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {page.next !== null && (
                <p>
                  <a href={href('/leads', { ...search, after: page.next })}>Next page</a>
                </p>
              )}
            </>
          )
        }
      </LoadState>
    </>
  );
}
