// One conversation: the thread, the window's remaining time, the reply box, private notes,
// the actions (take, assign, transfer, resolve, snooze) and the contact panel.

import { useEffect, useRef, useState } from 'preact/hooks';
import { all, get, patch, postJson, ApiError } from '../api.js';
import { hurry, subscribe } from '../live.js';
import { loadAgents, loadQueues, nameOf } from '../data.js';
import { Link } from '../router.jsx';
import { duration, when, contactLabel } from '../format.js';
import { Message } from './Message.jsx';
import { Composer } from './Composer.jsx';
import { ContactPanel } from './ContactPanel.jsx';
import { Tabs } from './Tabs.jsx';

/** Our messages of the last 10 minutes that may still turn delivered or read. */
function ticksPending(messages) {
  const since = Date.now() - 10 * 60 * 1000;
  return messages.some((m) => m.direction === 'outbound' && m.timestamp > since
    && ['queued', 'sent', 'delivered', 'unknown'].includes(m.status));
}

const SNOOZES = [
  ['1 hour', 3600e3],
  ['4 hours', 4 * 3600e3],
  ['Tomorrow', 24 * 3600e3],
];

/** The window's remaining time, ticking each 30 s from the last fetch. */
function WindowTimer({ window, fetchedAt }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 30000);
    return () => clearInterval(timer);
  }, []);
  if (!window?.open) return <span class="badge closed" data-window="closed">24 h window closed</span>;
  const left = window.seconds_left - (Date.now() - fetchedAt) / 1000;
  return (
    <span class={`badge ${left < 3600 ? 'warn' : 'ok'}`} data-window="open" title={`Closes ${when(window.closes_at)}`}>
      Window: {duration(left)} left
    </span>
  );
}

function Notes({ id }) {
  const [notes, setNotes] = useState([]);
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const load = () => all(`/v1/conversations/${id}/notes?limit=100`).then(setNotes).catch((e) => setError(e.message));
  useEffect(() => { load(); }, [id]);
  const submit = async (event) => {
    event.preventDefault();
    if (!text.trim()) return;
    try {
      await postJson(`/v1/conversations/${id}/notes`, { text });
      setText('');
      load();
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <div class="notes">
      <ul class="plain">
        {notes.map((n) => (
          <li class="note" key={n.id}>
            <p>{n.text}</p>
            <span class="muted small">{n.author?.name || n.author?.id || ''} · {when(n.created_at)}</span>
          </li>
        ))}
        {notes.length === 0 && <li class="muted small">No private notes yet.</li>}
      </ul>
      <form onSubmit={submit}>
        <label for="note">Private note (never sent to the customer)</label>
        <textarea id="note" rows={2} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <button type="submit" class="secondary" disabled={!text.trim()}>Add note</button>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
    </div>
  );
}

function Actions({ conversation, user, manager, onChange }) {
  const [queues, setQueues] = useState([]);
  const [agents, setAgents] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => {
    loadQueues().then(setQueues);
    if (manager) loadAgents().then(setAgents);
  }, [manager]);
  const change = async (body) => {
    setError('');
    try {
      onChange(await patch(`/v1/conversations/${conversation.id}`, { ...body, version: conversation.version }));
    } catch (e) {
      setError(e instanceof ApiError && e.status === 409 ? 'Someone changed it meanwhile: reloaded, try again.' : e.message);
      onChange(null);
    }
  };
  const resolved = conversation.state === 'resolved';
  return (
    <div class="actions" role="group" aria-label="Conversation actions">
      {conversation.state === 'queued' && !manager && (
        <button type="button" onClick={() => change({ state: 'open' })}>Take</button>
      )}
      {!resolved && (
        <button type="button" class="resolve" onClick={() => change({ state: 'resolved' })}>Resolve</button>
      )}
      {resolved && (
        <button type="button" class="secondary" onClick={() => change({ state: 'open' })}>Reopen</button>
      )}
      {!resolved && (
        <label>
          <span class="visually-hidden">Snooze</span>
          <select
            aria-label="Snooze"
            value=""
            onChange={(e) => e.currentTarget.value && change({ snoozed_until: Date.now() + Number(e.currentTarget.value) })}
          >
            <option value="">{conversation.snoozed_until ? `Snoozed until ${when(conversation.snoozed_until)}` : 'Snooze…'}</option>
            {SNOOZES.map(([label, ms]) => <option value={ms} key={label}>{label}</option>)}
          </select>
        </label>
      )}
      {manager && (
        <label>
          <span class="visually-hidden">Assign to</span>
          <select
            aria-label="Assign to"
            value={conversation.assignee || ''}
            onChange={(e) => change({ assignee: e.currentTarget.value || null })}
          >
            <option value="">Unassigned</option>
            {agents.map((a) => (
              <option value={a.user_id} key={a.user_id}>
                {a.user_id === user.id ? 'Me' : a.name} ({a.presence})
              </option>
            ))}
          </select>
        </label>
      )}
      {manager && (
        <label>
          <span class="visually-hidden">Transfer to queue</span>
          <select
            aria-label="Transfer to queue"
            value={conversation.queue || ''}
            onChange={(e) => e.currentTarget.value !== (conversation.queue || '') && change({ queue: e.currentTarget.value })}
          >
            <option value={conversation.queue || ''}>
              {conversation.queue ? `Queue: ${nameOf(queues, conversation.queue)}` : 'Transfer to queue…'}
            </option>
            {queues.filter((q) => q.id !== conversation.queue).map((q) => <option value={q.id} key={q.id}>{q.name}</option>)}
          </select>
        </label>
      )}
      {error && <p role="alert" class="error">{error}</p>}
    </div>
  );
}

export function Conversation({ id, user, manager }) {
  const [conversation, setConversation] = useState(null);
  const [fetchedAt, setFetchedAt] = useState(Date.now());
  const [messages, setMessages] = useState([]);
  const [contact, setContact] = useState(null);
  const [error, setError] = useState('');
  const [side, setSide] = useState('contact');
  const thread = useRef(null);
  const inFlight = useRef(false);
  const seen = useRef(0);

  const lastChange = useRef(null);
  const latest = useRef([]);
  const again = useRef(null); // a load asked for while one ran: null, 'light' or 'full'

  // `full` (first load, a notice about this conversation, a change made here) reads the
  // conversation, its messages and the contact; a polling tick reads the conversation only, and
  // the rest when it changed or while a recent message of ours may still get a tick: a few
  // agents polling stay well within the tenant's requests per minute.
  const load = async (full = true) => {
    if (inFlight.current) {
      again.current = full || again.current === 'full' ? 'full' : 'light';
      return;
    }
    inFlight.current = true;
    try {
      const detail = await get(`/v1/conversations/${id}`);
      setConversation(detail);
      setFetchedAt(Date.now());
      setError('');
      const changed = detail.updated_at !== lastChange.current;
      if (full || changed || ticksPending(latest.current)) {
        const list = await all(`/v1/conversations/${id}/messages?limit=100`, 10);
        latest.current = list;
        setMessages(list);
        const newest = list.at(-1)?.timestamp || 0;
        if (newest > seen.current) {
          seen.current = newest;
          postJson(`/v1/conversations/${id}/read`).catch(() => {});
        }
      }
      if (full || changed) get(`/v1/contacts/${detail.contact_id}`).then(setContact).catch(() => {});
      lastChange.current = detail.updated_at;
    } catch (e) {
      setError(e instanceof ApiError && e.status === 404 ? 'This conversation is no longer visible to you.' : e.message);
    } finally {
      inFlight.current = false;
      const next = again.current;
      again.current = null;
      if (next) load(next === 'full');
    }
  };

  useEffect(() => { load(); }, [id]);
  // Ticks still pending on our recent sends: poll at the fallback's rate until they settle.
  const pending = ticksPending(messages);
  useEffect(() => (pending ? hurry() : undefined), [pending]);
  useEffect(
    () => subscribe((event) => {
      if (event.type === 'notice') {
        if (event.conversation_id === id) load(true);
      } else {
        load(event.type === 'resync');
      }
    }),
    [id],
  );
  // The newest message in view: on a new one, and as media above it finish loading.
  const toBottom = () => {
    if (thread.current) thread.current.scrollTop = thread.current.scrollHeight;
  };
  useEffect(toBottom, [messages.length]);

  if (error && !conversation) {
    return (
      <section class="conversation" aria-label="Conversation">
        <Link to="/" class="back">← Inbox</Link>
        <p role="alert" class="error pad">{error}</p>
      </section>
    );
  }
  if (!conversation) return <section class="conversation" aria-busy="true"><p class="muted pad" role="status">Loading…</p></section>;

  const name = contactLabel(contact?.name, conversation.contact_id);
  return (
    <>
      <section class="conversation" aria-labelledby="conv-title" data-state={conversation.state}>
        <header class="conv-head">
          <Link to="/" class="back" aria-label="Back to the inbox">←</Link>
          <div class="conv-title">
            <h2 id="conv-title">{name}</h2>
            <span class="muted small">
              <span class={`badge state-${conversation.state}`} data-testid="state">{conversation.state}</span>
              {conversation.assignee && ` · ${conversation.assignee === user.id ? 'assigned to me' : 'assigned'}`}
            </span>
          </div>
          <WindowTimer window={conversation.window} fetchedAt={fetchedAt} />
        </header>
        <Actions conversation={conversation} user={user} manager={manager} onChange={(c) => (c ? (setConversation({ ...conversation, ...c }), load(true)) : load(true))} />
        {error && <p role="alert" class="error">{error}</p>}
        <ol class="thread" ref={thread} aria-live="polite" aria-label="Messages" onLoadCapture={toBottom}>
          {messages.map((m) => <Message message={m} key={m.id} />)}
        </ol>
        {conversation.state !== 'resolved' && <Composer conversation={conversation} contact={contact} onSent={() => load(true)} />}
      </section>
      <aside class="side" aria-label="Details">
        <Tabs label="Details" tabs={[['contact', 'Contact'], ['notes', 'Private notes']]} value={side} onChange={setSide} />
        {side === 'contact' ? <ContactPanel contact={contact} /> : <Notes id={id} />}
      </aside>
    </>
  );
}
