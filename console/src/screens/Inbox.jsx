// The inbox: my conversations, my queues' waiting ones, or all (managers), with filters.

import { useEffect, useRef, useState } from 'preact/hooks';
import { get, postJson, query, ApiError } from '../api.js';
import { subscribe } from '../live.js';
import { loadAgents, loadQueues, nameOf } from '../data.js';
import { Link, navigate } from '../router.jsx';
import { Tabs } from './Tabs.jsx';
import { duration, when, windowLabel, contactLabel } from '../format.js';

const STATES = ['bot', 'queued', 'open', 'pending', 'resolved'];

/** The listing of a view with filters; `all` on an API without it reads `/v1/conversations`. */
async function fetchView(view, filters) {
  const params = { view, state: filters.state, queue: filters.queue, limit: 50 };
  if (view === 'all') params.assignee = filters.assignee;
  try {
    return (await get(`/v1/inbox${query(params)}`)).items;
  } catch (error) {
    if (!(view === 'all' && error instanceof ApiError && error.status === 400)) throw error;
    const { view: _, ...rest } = params;
    return (await get(`/v1/conversations${query(rest)}`)).items;
  }
}

function waitingSeconds(item) {
  if (item.waiting_seconds !== undefined && item.waiting_seconds !== null) return item.waiting_seconds;
  return item.state === 'queued' && item.queued_at ? (Date.now() - item.queued_at) / 1000 : null;
}

function Row({ item, selected, queues }) {
  const win = windowLabel(item.window);
  const wait = waitingSeconds(item);
  const name = contactLabel(item.contact_name, item.contact_id);
  return (
    <li>
      <Link
        to={`/c/${item.id}`}
        class={`row ${selected ? 'selected' : ''} ${item.unread_count ? 'unread' : ''}`}
        aria-current={selected ? 'true' : undefined}
        data-conversation={item.id}
      >
        <span class="row-top">
          <strong class="row-name">{name}</strong>
          <time class="muted">{when(item.last_message?.at || item.last_message_at)}</time>
        </span>
        <span class="row-preview">
          {item.last_message?.direction === 'outbound' && <span class="muted">You: </span>}
          {item.last_message?.preview || <span class="muted">No messages</span>}
        </span>
        <span class="row-meta">
          <span class={`badge state-${item.state}`}>{item.state}</span>
          {item.queue && <span class="badge">{nameOf(queues, item.queue)}</span>}
          {wait !== null && <span class="badge warn" title="Waiting in queue">waiting {duration(wait)}</span>}
          {item.window && <span class={`badge ${win.open ? 'ok' : 'closed'}`}>{win.text}</span>}
          {item.unread_count > 0 && (
            <span class="count" aria-label={`${item.unread_count} unread`}>{item.unread_count}</span>
          )}
        </span>
      </Link>
    </li>
  );
}

export function Inbox({ selected, manager }) {
  const [view, setView] = useState(sessionStorage.getItem('leadline.view') || 'mine');
  const [filters, setFilters] = useState({ state: '', queue: '', assignee: '' });
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  const [queues, setQueues] = useState([]);
  const [agents, setAgents] = useState([]);
  const inFlight = useRef(false);
  const latest = useRef({ view, filters });
  latest.current = { view, filters };

  const reload = async () => {
    if (inFlight.current) return;
    inFlight.current = true;
    const { view: v, filters: f } = latest.current;
    try {
      const list = await fetchView(v, f);
      // Filters the API may not apply yet (they are applied again here: cheap, and exact).
      const shown = list.filter((c) => (!f.state || c.state === f.state) && (!f.queue || c.queue === f.queue));
      // Waiting ones first come, first served (the API's order); the others by latest activity.
      if (v !== 'waiting') shown.sort((a, b) => (b.last_message?.at || b.last_message_at) - (a.last_message?.at || a.last_message_at));
      if (latest.current.view === v && latest.current.filters === f) setItems(shown);
      setError('');
    } catch (e) {
      setError(e.message);
    } finally {
      inFlight.current = false;
    }
  };

  useEffect(() => {
    loadQueues().then(setQueues);
    if (manager) loadAgents().then(setAgents);
  }, [manager]);
  useEffect(() => {
    setItems(null);
    sessionStorage.setItem('leadline.view', view);
    reload();
  }, [view, filters]);
  useEffect(() => subscribe(() => reload()), []);

  // The oldest waiting conversation of my queues becomes mine (204: nothing waits any more).
  const takeNext = async () => {
    try {
      const taken = await postJson('/v1/me/conversations/next');
      if (taken?.id) navigate(`/c/${taken.id}`);
      else reload();
    } catch (e) {
      setError(e.message);
    }
  };

  const views = [['mine', 'Mine'], ['waiting', 'Waiting'], ...(manager ? [['all', 'All']] : [])];
  const set = (name) => (event) => setFilters({ ...filters, [name]: event.currentTarget.value });

  return (
    <section class="inbox" aria-labelledby="inbox-title">
      <h2 id="inbox-title" class="visually-hidden">Inbox</h2>
      <Tabs label="Inbox views" tabs={views} value={view} onChange={setView} />
      <details class="filters">
        <summary>Filters{filters.state || filters.queue || filters.assignee ? ' (on)' : ''}</summary>
        <div class="filter-grid">
          <label>
            State
            <select aria-label="State" value={filters.state} onChange={set('state')}>
              <option value="">Any</option>
              {STATES.map((s) => <option value={s} key={s}>{s}</option>)}
            </select>
          </label>
          <label>
            Queue
            <select aria-label="Queue" value={filters.queue} onChange={set('queue')}>
              <option value="">Any</option>
              {queues.map((q) => <option value={q.id} key={q.id}>{q.name}</option>)}
            </select>
          </label>
          {view === 'all' && (
            <label>
              Assignee
              <select aria-label="Assignee" value={filters.assignee} onChange={set('assignee')}>
                <option value="">Anyone</option>
                {agents.map((a) => <option value={a.user_id} key={a.user_id}>{a.name}</option>)}
              </select>
            </label>
          )}
        </div>
      </details>
      {view === 'waiting' && items?.length > 0 && (
        <div class="pad-s">
          <button type="button" class="secondary small" onClick={takeNext}>Take the next one</button>
        </div>
      )}
      {error && <p role="alert" class="error">{error}</p>}
      {items === null ? (
        <p class="muted pad" role="status">Loading…</p>
      ) : items.length === 0 ? (
        <p class="muted pad">
          {view === 'mine' ? 'Nothing assigned to you. Set your status to online to receive conversations.' : 'No conversations.'}
        </p>
      ) : (
        <ul class="rows" aria-live="polite" aria-label={`${items.length} conversations`}>
          {items.map((item) => <Row item={item} selected={item.id === selected} queues={queues} key={item.id} />)}
        </ul>
      )}
    </section>
  );
}
