import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { call, Me, qs } from '../api';
import { ProblemView, Section, when } from '../ui';

interface Counts {
  allowed: number;
  denied: number;
  rateLimited: number;
  failed: number;
  other: number;
}
interface Stats {
  from: string;
  to: string;
  buckets: (Counts & { at: string })[];
  totals: Counts;
  topReasons: { reason: string; count: number }[];
}

const RANGES = [
  { key: 'hour', label: 'Last hour', bucket: 'minute' },
  { key: 'day', label: 'Last day', bucket: 'hour' },
  { key: 'week', label: 'Last week', bucket: 'day' },
] as const;

const SERIES: { key: keyof Counts; label: string; color: string }[] = [
  { key: 'allowed', label: 'Allowed', color: '#2e7d32' },
  { key: 'denied', label: 'Denied', color: '#c62828' },
  { key: 'rateLimited', label: 'Rate-limited', color: '#ef6c00' },
];

function Chart({ stats }: { stats: Stats }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current!;
    const data: uPlot.AlignedData = [
      stats.buckets.map((b) => Date.parse(b.at) / 1000),
      ...SERIES.map((s) => stats.buckets.map((b) => b[s.key])),
    ];
    const width = () => Math.max(280, el.clientWidth);
    const plot = new uPlot(
      {
        width: width(),
        height: 240,
        series: [
          {},
          ...SERIES.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            fill: `${s.color}22`,
          })),
        ],
        axes: [{}, { size: 50 }],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      },
      data,
      el,
    );
    const resize = () => plot.setSize({ width: width(), height: 240 });
    addEventListener('resize', resize);
    return () => {
      removeEventListener('resize', resize);
      plot.destroy();
    };
  }, [stats]);
  return (
    <div
      ref={box}
      class="chart"
      role="img"
      aria-label="Decisions over time: allowed, denied and rate-limited"
    />
  );
}

export function Overview({ me }: { me: Me }) {
  const [range, setRange] = useState<(typeof RANGES)[number]>(RANGES[0]);
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setError(null);
    call<Stats>('GET', `/admin/audit/stats${qs({ bucket: range.bucket })}`)
      .then((r) => setStats(r.body))
      .catch(setError);
  }, [range]);
  return (
    <div class="grid">
      <Section title={me.admin ? 'Decisions' : 'Your activity'}>
        <div role="group" aria-label="Time range" class="buttons">
          {RANGES.map((r) => (
            <button
              type="button"
              key={r.key}
              aria-pressed={r === range}
              onClick={() => setRange(r)}
            >
              {r.label}
            </button>
          ))}
        </div>
        <ProblemView error={error} />
        {stats && (
          <>
            <Chart stats={stats} />
            <dl class="totals">
              {SERIES.map((s) => (
                <div key={s.key}>
                  <dt>{s.label}</dt>
                  <dd>{stats.totals[s.key].toLocaleString()}</dd>
                </div>
              ))}
              <div>
                <dt>Failed sign-ins</dt>
                <dd>{stats.totals.failed.toLocaleString()}</dd>
              </div>
            </dl>
          </>
        )}
      </Section>
      <Section title="Top denial reasons">
        {stats && stats.topReasons.length === 0 && <p>No denials in this range.</p>}
        {stats && stats.topReasons.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">Reason</th>
                <th scope="col">Count</th>
              </tr>
            </thead>
            <tbody>
              {stats.topReasons.map((r) => (
                <tr key={r.reason}>
                  <td>
                    <code>{r.reason}</code>
                  </td>
                  <td>{r.count.toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {me.admin && <AdminPanels range={range.key} />}
    </div>
  );
}

function AdminPanels({ range }: { range: string }) {
  const [callers, setCallers] = useState<{ actor: string; count: number }[] | null>(null);
  const [retention, setRetention] = useState<Record<string, unknown> | null>(null);
  const [health, setHealth] = useState<Record<string, unknown> | null>(null);
  const [buffer, setBuffer] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const span = range === 'hour' ? 3_600_000 : range === 'day' ? 86_400_000 : 7 * 86_400_000;
    const from = new Date(Date.now() - span).toISOString();
    call<{ actor: string; count: number }[]>('GET', `/admin/audit/stats/callers${qs({ from })}`)
      .then((r) => setCallers(r.body))
      .catch(setError);
  }, [range]);
  useEffect(() => {
    call<Record<string, unknown>>('GET', '/admin/audit/retention')
      .then((r) => setRetention(r.body))
      .catch(setError);
    fetch('/health/ready')
      .then(async (r) => setHealth({ status: r.status, ...(await r.json()) }))
      .catch(() => setHealth({ status: 'unreachable' }));
    fetch('/metrics')
      .then((r) => (r.ok ? r.text() : ''))
      .then((text) => setBuffer(text.split('\n').filter((l) => /^warden_audit_/.test(l))))
      .catch(() => setBuffer([]));
  }, []);
  const lastRun = retention?.lastRun as Record<string, unknown> | null | undefined;
  return (
    <>
      <Section title="Top callers">
        <ProblemView error={error} />
        {callers && callers.length === 0 && <p>No callers in this range.</p>}
        {callers && callers.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">Caller</th>
                <th scope="col">Events</th>
              </tr>
            </thead>
            <tbody>
              {callers.map((c) => (
                <tr key={c.actor}>
                  <td>{c.actor}</td>
                  <td>{c.count.toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Audit buffer">
        {buffer.length === 0 ? (
          <p>No audit metrics available.</p>
        ) : (
          <pre class="metrics">{buffer.join('\n')}</pre>
        )}
      </Section>
      <Section title="Retention">
        {retention && (
          <dl class="facts">
            <dt>Schedule</dt>
            <dd>
              <code>{String(retention.cron)}</code> ({String(retention.timeZone)})
            </dd>
            <dt>Next run</dt>
            <dd>{when(retention.nextRunAt as string | null)}</dd>
            <dt>Keeps</dt>
            <dd>
              {String(retention.retentionDays)} days, at most{' '}
              {Number(retention.maxEntries).toLocaleString()} rows
            </dd>
            <dt>Last run</dt>
            <dd>{lastRun ? <code>{JSON.stringify(lastRun)}</code> : 'never'}</dd>
          </dl>
        )}
      </Section>
      <Section title="Instance health">
        {health && <pre class="metrics">{JSON.stringify(health, null, 2)}</pre>}
      </Section>
    </>
  );
}
