import type { PageProps } from '../app';
import { type Connector, need } from '../api/client';
import { BarList, LineChart, StackedBars } from '../components/charts';
import { PeriodPicker } from '../components/period-picker';
import { Badge, LoadState } from '../components/status';
import { useLoad } from '../components/use-load';
import { formatCount, formatPercent, formatWeek } from '../lib/format';
import { type FunnelCounts, funnelRows, stageLabels, stages } from '../lib/funnel';
import { type Period, type Preset, periodQuery, presetPeriod } from '../lib/period';
import { href } from '../router';

/** The period in the address (?preset=12w or ?from=&to=), else the last twelve weeks. */
function periodOf(query: URLSearchParams): Period {
  const from = query.get('from');
  const to = query.get('to');
  if (from !== null && to !== null) {
    return { preset: 'custom', from, to };
  }
  const preset = (query.get('preset') ?? '12w') as Preset;
  return presetPeriod(
    preset === 'custom' || !['4w', '12w', '26w', '52w'].includes(preset) ? '12w' : preset,
    Date.now(),
  );
}

export function OverviewPage({ client, route }: PageProps) {
  const period = periodOf(route.query);
  const query = periodQuery(period);
  const key = `${query.from}/${query.to}`;
  const byWeek = useLoad(
    () => need(client.GET('/v1/reports/funnel', { params: { query: { ...query, by: 'week' } } })),
    key,
  );
  const bySource = useLoad(
    () => need(client.GET('/v1/reports/funnel', { params: { query: { ...query, by: 'source' } } })),
    key,
  );
  const meetings = useLoad(
    () => need(client.GET('/v1/reports/meetings', { params: { query: { ...query, by: 'week' } } })),
    key,
  );
  const connectors = useLoad(() => need(client.GET('/v1/connectors')), 'connectors');

  const choose = (p: Period) => {
    location.hash =
      p.preset === 'custom' ? href('/', { from: p.from, to: p.to }) : href('/', { preset: p.preset });
  };

  return (
    <>
      <h1>Overview</h1>
      <section aria-labelledby="attention-title" class="card">
        <h2 id="attention-title">Needs attention</h2>
        <LoadState loaded={connectors} what="the connectors">
          {(list) => <Attention connectors={list.data} />}
        </LoadState>
      </section>

      <PeriodPicker period={period} onChange={choose} />

      <section aria-labelledby="funnel-title" class="card">
        <h2 id="funnel-title">Funnel</h2>
        <p class="muted">
          Leads first seen {period.from} to {period.to}, and what they have reached so far.
        </p>
        <LoadState loaded={byWeek} what="the funnel">
          {(report) => <FunnelTotals counts={report.totals} />}
        </LoadState>
      </section>

      <div class="columns">
        <section aria-labelledby="weekly-title" class="card">
          <h2 id="weekly-title">By week first seen</h2>
          <LoadState loaded={byWeek} what="the weekly funnel">
            {(report) => {
              const weeks = report.groups.map((g) => formatWeek(g.key));
              return (
                <>
                  <LineChart
                    label={`Funnel stages per week, ${weeks.length} weeks`}
                    categories={weeks}
                    series={stages.map((s) => ({
                      name: stageLabels[s],
                      values: report.groups.map((g) => g[s]),
                    }))}
                  />
                  <GroupTable
                    caption="Funnel by week"
                    keyLabel="Week of"
                    groups={report.groups}
                    label={formatWeek}
                  />
                </>
              );
            }}
          </LoadState>
        </section>
        <section aria-labelledby="sources-title" class="card">
          <h2 id="sources-title">By source</h2>
          <LoadState loaded={bySource} what="the funnel by source">
            {(report) =>
              report.groups.length === 0 ? (
                <p class="muted">No leads were first seen in this period.</p>
              ) : (
                <>
                  <BarList
                    label="Leads by the source that saw them first"
                    rows={report.groups.map((g) => ({
                      name: g.key,
                      value: g.leads,
                      note: `${formatPercent(g.customers, g.leads)} customers`,
                    }))}
                  />
                  <GroupTable
                    caption="Funnel by source"
                    keyLabel="Source"
                    groups={report.groups}
                    label={(k) => k}
                  />
                </>
              )
            }
          </LoadState>
        </section>
      </div>

      <section aria-labelledby="meetings-title" class="card">
        <h2 id="meetings-title">Meetings by week</h2>
        <LoadState loaded={meetings} what="the meetings">
          {(report) => {
            const statuses = Object.keys(report.totals.statuses).sort();
            return (
              <>
                <p>
                  {formatCount(report.totals.meetings)} meeting
                  {report.totals.meetings === 1 ? ' starts' : 's start'} in the period
                  {statuses.length > 0 && ': '}
                  {statuses.map((s, i) => (
                    <span key={s}>
                      {i > 0 && ', '}
                      {formatCount(report.totals.statuses[s] ?? 0)} {s.replace('_', '-')}
                    </span>
                  ))}
                  .
                </p>
                {report.totals.meetings > 0 && (
                  <StackedBars
                    label="Meetings per week by status"
                    categories={report.groups.map((g) => formatWeek(g.key))}
                    series={statuses.map((s) => ({
                      name: s,
                      values: report.groups.map((g) => g.statuses[s] ?? 0),
                    }))}
                  />
                )}
              </>
            );
          }}
        </LoadState>
      </section>
    </>
  );
}

function FunnelTotals(props: { counts: FunnelCounts }) {
  const rows = funnelRows(props.counts);
  return (
    <div class="funnel">
      <BarList
        label={rows.map((r) => `${r.label} ${r.count}`).join(', ')}
        rows={rows.map((r) => ({
          name: r.label,
          value: r.count,
          ...(r.ofLeads !== null && r.stage !== 'leads'
            ? { note: formatPercent(r.count, props.counts.leads) }
            : {}),
        }))}
      />
      <div class="scroll">
        <table aria-label="Funnel totals">
          <thead>
            <tr>
              <th scope="col">Stage</th>
              <th scope="col" class="num">
                Leads
              </th>
              <th scope="col" class="num">
                Of leads
              </th>
              <th scope="col" class="num">
                Of previous
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={r.stage}>
                <th scope="row">{r.label}</th>
                <td class="num" data-stage={r.stage}>
                  {formatCount(r.count)}
                </td>
                <td class="num">{i === 0 ? '' : formatPercent(r.count, props.counts.leads)}</td>
                <td class="num">
                  {i === 0 ? '' : formatPercent(r.count, props.counts[stages[i - 1] ?? 'leads'])}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function GroupTable(props: {
  caption: string;
  keyLabel: string;
  groups: ({ key: string } & FunnelCounts)[];
  label: (key: string) => string;
}) {
  return (
    <details>
      <summary>Numbers</summary>
      <div class="scroll">
        <table aria-label={props.caption}>
          <thead>
            <tr>
              <th scope="col">{props.keyLabel}</th>
              {stages.map((s) => (
                <th key={s} scope="col" class="num">
                  {stageLabels[s]}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.groups.map((g) => (
              <tr key={g.key}>
                <th scope="row">{props.label(g.key)}</th>
                {stages.map((s) => (
                  <td key={s} class="num">
                    {formatCount(g[s])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

function Attention(props: { connectors: Connector[] }) {
  const items = props.connectors.flatMap((c) => c.attention.map((a) => ({ connector: c, ...a })));
  if (items.length === 0) {
    return <p class="good">Nothing: every enabled connector is running, polling and delivering.</p>;
  }
  return (
    <ul class="attention">
      {items.map((item) => (
        <li key={`${item.connector.name}-${item.code}`}>
          <Badge tone={['dead_deliveries', 'poll_lag', 'poll_held'].includes(item.code) ? 'warn' : 'bad'}>
            {item.code.replace(/_/g, ' ')}
          </Badge>{' '}
          <a href={href(`/connectors/${item.connector.name}`)}>{item.connector.name}</a>: {item.message}
          {item.code === 'dead_deliveries' && (
            <>
              {' '}
              (
              <a href={href('/deliveries', { status: 'dead', destination: item.connector.name })}>see them</a>
              )
            </>
          )}
        </li>
      ))}
    </ul>
  );
}
