// The manager's dashboard: the contact center's analytics as charts, queue depth and who is
// online. Refreshed by the live events (and the polling fallback) like the inbox.

import { useEffect, useRef, useState } from 'preact/hooks';
import { get, query } from '../api.js';
import { subscribe } from '../live.js';
import { loadAgents, loadQueues } from '../data.js';
import { duration } from '../format.js';
import { Bars, HBars } from './charts.jsx';

const RANGES = [
  ['24h', 'Last 24 hours', 24],
  ['7d', 'Last 7 days', 24 * 7],
  ['30d', 'Last 30 days', 24 * 30],
];

const hourLabel = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit' });
const dayLabel = (t) => new Date(t).toLocaleDateString([], { month: 'short', day: 'numeric' });

function Tile({ label, value, hint }) {
  return (
    <div class="tile">
      <span class="tile-value">{value}</span>
      <span class="tile-label">{label}</span>
      {hint && <span class="muted small">{hint}</span>}
    </div>
  );
}

export function Dashboard() {
  const [range, setRange] = useState('24h');
  const [queue, setQueue] = useState('');
  const [figures, setFigures] = useState(null);
  const [queues, setQueues] = useState([]);
  const [agents, setAgents] = useState([]);
  const [error, setError] = useState('');
  const last = useRef(0);

  const load = async (force = true) => {
    // Three reads a refresh: on live events and ticks, at most one every 30 seconds.
    if (!force && Date.now() - last.current < 30000) return;
    last.current = Date.now();
    const hours = RANGES.find((r) => r[0] === range)[2];
    const to = Date.now();
    try {
      const [f, q, a] = await Promise.all([
        get(`/v1/analytics/conversations${query({ from: to - hours * 3600e3, to, queue })}`),
        loadQueues(true),
        loadAgents(true),
      ]);
      setFigures(f);
      setQueues(q);
      setAgents(a);
      setError('');
    } catch (e) {
      setError(e.message);
    }
  };
  useEffect(() => { load(); }, [range, queue]);
  useEffect(() => subscribe(() => load(false)), [range, queue]);

  const byDay = range !== '24h';
  const points = figures ? (byDay ? figures.by_day.map((d) => ({ t: d.day, ...d })) : figures.by_hour.map((h) => ({ t: h.hour, ...h }))) : [];
  const online = agents.filter((a) => a.presence === 'online');
  const p = (x) => (x === null || x === undefined ? '—' : duration(x));

  return (
    <section class="dashboard" aria-labelledby="dash-title">
      <div class="dash-head">
        <h2 id="dash-title">Dashboard</h2>
        <label>
          Period
          <select aria-label="Period" value={range} onChange={(e) => setRange(e.currentTarget.value)}>
            {RANGES.map(([id, label]) => <option value={id} key={id}>{label}</option>)}
          </select>
        </label>
        <label>
          Queue
          <select aria-label="Queue" value={queue} onChange={(e) => setQueue(e.currentTarget.value)}>
            <option value="">All queues</option>
            {queues.map((q) => <option value={q.id} key={q.id}>{q.name}</option>)}
          </select>
        </label>
      </div>
      {error && <p role="alert" class="error">{error}</p>}
      {!figures ? (
        <p class="muted" role="status">Loading…</p>
      ) : (
        <>
          <div class="tiles">
            <Tile label="Conversations" value={figures.conversations} />
            <Tile label="Resolved" value={figures.resolved} />
            <Tile label="First response p50" value={p(figures.first_response_seconds?.p50)} hint={`p90 ${p(figures.first_response_seconds?.p90)}`} />
            <Tile label="Resolution p50" value={p(figures.resolution_seconds?.p50)} hint={`p90 ${p(figures.resolution_seconds?.p90)}`} />
            <Tile label="Waiting p50" value={p(figures.waiting_seconds?.p50)} hint={`p90 ${p(figures.waiting_seconds?.p90)}`} />
            <Tile label="SLA breaches" value={figures.sla_breaches ?? 0} />
            <Tile label="Agents online" value={`${online.length}/${agents.length}`} />
          </div>
          <div class="charts">
            <Bars
              title={byDay ? 'Volume by day' : 'Volume by hour'}
              points={points}
              format={byDay ? dayLabel : hourLabel}
              series={[
                { key: 'conversations', label: 'Conversations', cls: 'bar-a' },
                { key: 'messages_received', label: 'Messages received', cls: 'bar-b' },
                { key: 'agent_replies', label: 'Agent replies', cls: 'bar-c' },
                { key: 'resolved', label: 'Resolved', cls: 'bar-d' },
              ]}
            />
            <HBars
              title="Response times (p50 / p90)"
              format={duration}
              rows={[
                { label: 'First resp. p50', value: figures.first_response_seconds?.p50 ?? null, cls: 'bar-a' },
                { label: 'First resp. p90', value: figures.first_response_seconds?.p90 ?? null, cls: 'bar-a' },
                { label: 'Resolution p50', value: figures.resolution_seconds?.p50 ?? null, cls: 'bar-d' },
                { label: 'Resolution p90', value: figures.resolution_seconds?.p90 ?? null, cls: 'bar-d' },
                { label: 'Waiting p50', value: figures.waiting_seconds?.p50 ?? null, cls: 'bar-b' },
                { label: 'Waiting p90', value: figures.waiting_seconds?.p90 ?? null, cls: 'bar-b' },
              ]}
            />
            <HBars title="Queue depth (waiting now)" rows={queues.map((q) => ({ label: q.name, value: q.waiting ?? 0, cls: 'bar-c' }))} />
          </div>
          <section aria-labelledby="who-title">
            <h3 id="who-title">Who is online</h3>
            <div class="table-wrap">
            <table class="agents">
              <thead>
                <tr><th scope="col">Agent</th><th scope="col">Status</th><th scope="col">Load</th><th scope="col">Queues</th></tr>
              </thead>
              <tbody>
                {agents.map((a) => (
                  <tr key={a.user_id} data-presence={a.presence}>
                    <td>{a.name}</td>
                    <td><span class={`presence-dot ${a.presence}`} aria-hidden="true" /> {a.presence}</td>
                    <td>{a.load ?? 0}/{a.capacity ?? '—'}</td>
                    <td>{(a.queues || []).map((id) => queues.find((q) => q.id === id)?.name || id).join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            </div>
          </section>
        </>
      )}
    </section>
  );
}
