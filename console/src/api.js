// The one API client: every call goes through `request`, which adds the access token, refreshes
// it once on a 401 (or shortly before it expires) and signs out when the session is gone.
//
// The refresh token lives in the API's httpOnly cookie (`leadline_refresh`, Path=/v1/auth) when
// the API sets one (`cookie_only` login): scripts never see it, and after a reload the session
// is resumed by `POST /v1/auth/refresh` with an empty body. An API without the cookie answers the
// refresh token in the body; it is then kept in this tab's sessionStorage only.

const config = (name, fallback) =>
  document.querySelector(`meta[name="leadline-${name}"]`)?.content || fallback;

/** Where the API is: the page's own origin unless the build named another. */
export const API_BASE = config('api', location.origin).replace(/\/$/, '');
/** The live updates' WebSocket URL. */
export const LIVE_URL = config('live', `${API_BASE.replace(/^http/, 'ws')}/live`);

const STORED_REFRESH = 'leadline.refresh';
const STORED_TENANT = 'leadline.tenant';
const credentials = new URL(API_BASE).origin === location.origin ? 'same-origin' : 'include';

let session = null; // {access, expiresAt, user}
let refreshing = null; // the refresh in flight, shared by concurrent 401s
const listeners = new Set();

/** An API error: status, the problem's title and detail. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

/** Calls `listener(user | null)` whenever the signed-in user changes. */
export function onSession(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function setSession(next) {
  session = next;
  for (const listener of listeners) listener(session?.user ?? null);
}

export const currentUser = () => session?.user ?? null;
export const accessToken = () => session?.access ?? null;
export const lastTenant = () => localStorage.getItem(STORED_TENANT) || '';

async function post(path, body) {
  const response = await fetch(API_BASE + path, {
    method: 'POST',
    credentials,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const data = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

async function readBody(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text };
  }
}

function adopt(tokens, user = tokens.user) {
  if (tokens.refresh_token) sessionStorage.setItem(STORED_REFRESH, tokens.refresh_token);
  else sessionStorage.removeItem(STORED_REFRESH);
  setSession({ access: tokens.access_token, expiresAt: Date.now() + tokens.expires_in * 1000, user });
}

/** Signs in; resolves to the user. */
export async function signIn(tenantId, email, password) {
  const body = { tenant_id: tenantId.trim(), email: email.trim(), password };
  let tokens;
  try {
    tokens = await post('/v1/auth/login', { ...body, cookie_only: true });
  } catch (error) {
    // An API without the refresh cookie refuses the unknown field: log in as scripts do.
    if (!(error instanceof ApiError && error.status === 400)) throw error;
    tokens = await post('/v1/auth/login', body);
  }
  localStorage.setItem(STORED_TENANT, body.tenant_id);
  adopt(tokens);
  return tokens.user;
}

/** Trades the refresh token (cookie or stored) for a new access token; false when none works. */
export function refresh() {
  refreshing ??= (async () => {
    const stored = sessionStorage.getItem(STORED_REFRESH);
    try {
      const tokens = await post('/v1/auth/refresh', stored ? { refresh_token: stored } : {});
      adopt(tokens, tokens.user ?? session?.user);
      return true;
    } catch {
      sessionStorage.removeItem(STORED_REFRESH);
      setSession(null);
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** The access token, refreshed first when it expires within 30 s (null when signed out). */
export async function freshToken() {
  if (session && Date.now() > session.expiresAt - 30_000) await refresh();
  return session?.access ?? null;
}

/** After a reload: resumes the session if the cookie (or this tab) still holds one. */
export async function resume() {
  return (await refresh()) ? currentUser() : null;
}

/** Ends the session on the server too (the cookie is cleared by the answer). */
export async function signOut() {
  const stored = sessionStorage.getItem(STORED_REFRESH);
  sessionStorage.removeItem(STORED_REFRESH);
  try {
    await post('/v1/auth/logout', stored ? { refresh_token: stored } : {});
  } catch {
    // Already gone: signed out either way.
  }
  setSession(null);
}

/**
 * One API call. `body` is sent as JSON (or as is when it is a Blob); the answer's JSON is
 * returned (null for 204). `raw: true` returns the Response (media).
 */
export async function request(method, path, { body, headers = {}, raw = false, retried = false } = {}) {
  if (session && Date.now() > session.expiresAt - 30_000 && !retried) await refresh();
  if (!session) throw new ApiError(401, { title: 'Signed out' });
  const isBlob = body instanceof Blob;
  const response = await fetch(API_BASE + path, {
    method,
    credentials,
    headers: {
      authorization: `Bearer ${session.access}`,
      ...(body !== undefined && !isBlob ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : isBlob ? body : JSON.stringify(body),
  });
  if (response.status === 401 && !retried) {
    if (await refresh()) return request(method, path, { body, headers, raw, retried: true });
    throw new ApiError(401, { title: 'Signed out' });
  }
  if (raw && response.ok) return response;
  const data = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => request('GET', path);
export const patch = (path, body) => request('PATCH', path, { body });
export const postJson = (path, body) => request('POST', path, { body });
export const put = (path, body) => request('PUT', path, { body });

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '');
  return entries.length ? `?${new URLSearchParams(entries)}` : '';
}

/** Every item of a paged listing, following `next` up to `maxPages` pages. */
export async function all(path, maxPages = 5) {
  const items = [];
  let cursor;
  for (let page = 0; page < maxPages; page += 1) {
    const sep = path.includes('?') ? '&' : '?';
    const data = await get(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    items.push(...(data.items || []));
    cursor = data.next;
    if (!cursor) break;
  }
  return items;
}

/** Sends a message as the Cloud API's body, with a fresh idempotency key. */
export function send(message) {
  return request('POST', '/v1/messages', {
    body: message,
    headers: { 'idempotency-key': uuid() },
  });
}

/** A random UUID (crypto.randomUUID needs a secure context; a LAN address over http is not). */
function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
