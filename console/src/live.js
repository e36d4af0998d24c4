// Live updates: the API's WebSocket (`/live?token=`) when it answers, polling otherwise.
// Screens subscribe and refetch what they show on each event: a notice names a conversation
// and what changed (`kind`: message, status, assignment, state; ids only, never content); a
// `tick` (polling) or `resync` (after a reconnect) names none.

import { LIVE_URL, freshToken } from './api.js';

// Without the socket: a few seconds (each tick costs an open screen one or two requests, and the
// tenant's plan counts requests per minute). Nothing while the tab is hidden.
const POLL_MS = 4000;
const SAFETY_POLL_MS = 30000; // with it: notices are best effort, so a slow poll still runs

const subscribers = new Set();
let socket = null;
let timer = null;
let pinger = null;
let retryMs = 1000;
let running = false;
let lastTick = 0;
let hurried = 0;

/** True while the WebSocket is open (shown in the header). */
export const connected = () => socket?.readyState === WebSocket.OPEN;

/** Calls `fn(event)` on every notice, tick and resync; returns the unsubscribe function. */
export function subscribe(fn) {
  subscribers.add(fn);
  return () => subscribers.delete(fn);
}

function emit(event) {
  for (const fn of subscribers) fn(event);
}

/**
 * While `on`, ticks come at the polling rate even with the socket open: for what notices may
 * miss (a status Meta sends without the callback data that names our message). Returns the
 * function that ends it.
 */
export function hurry() {
  hurried += 1;
  return () => { hurried = Math.max(0, hurried - 1); };
}

function poll() {
  if (document.hidden) return;
  const every = connected() && hurried === 0 ? SAFETY_POLL_MS : POLL_MS;
  if (Date.now() - lastTick >= every) {
    lastTick = Date.now();
    emit({ type: 'tick' });
  }
}

async function open() {
  const token = await freshToken();
  if (!running || !token || typeof WebSocket === 'undefined') return;
  let ws;
  try {
    ws = new WebSocket(`${LIVE_URL}?token=${encodeURIComponent(token)}`);
  } catch {
    schedule();
    return;
  }
  socket = ws;
  ws.onopen = () => {
    retryMs = 1000;
    emit({ type: 'resync', live: true });
  };
  ws.onmessage = (message) => {
    try {
      // `type` stays `notice` (the server's own type, `conversation`, is kept as `notice`).
      const notice = JSON.parse(message.data);
      emit({ ...notice, notice: notice.type, type: 'notice' });
    } catch {
      // Not a notice: nothing to do.
    }
  };
  ws.onclose = () => {
    if (socket === ws) socket = null;
    emit({ type: 'resync', live: false });
    schedule();
  };
}

// Reconnects with a growing delay (an API without the socket is asked again at most once a
// minute). The server closes the socket when the access token expires: `open` takes a fresh one.
function schedule() {
  if (!running) return;
  setTimeout(() => running && open(), retryMs);
  retryMs = Math.min(retryMs * 2, 60000);
}

/** Starts after sign-in. */
export function start() {
  if (running) return;
  running = true;
  retryMs = 1000;
  open();
  timer = setInterval(poll, 500);
  document.addEventListener('visibilitychange', onVisible);
  // Keeps an idle connection open (API Gateway closes it after 10 idle minutes).
  pinger = setInterval(() => connected() && socket.send('{"action":"ping"}'), 5 * 60 * 1000);
}

// Back to a hidden tab: catch up at once.
function onVisible() {
  if (!document.hidden) {
    lastTick = Date.now();
    emit({ type: 'resync', live: connected() });
  }
}

/** Stops at sign-out. */
export function stop() {
  running = false;
  document.removeEventListener('visibilitychange', onVisible);
  clearInterval(timer);
  clearInterval(pinger);
  socket?.close();
  socket = null;
}
