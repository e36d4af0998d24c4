// What the browser test does to the local stack from outside the page: the demo's credentials,
// Meta's signed webhooks (as tests/it/support.rs signs them) and the sandbox Graph API's outbox.
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The demo tenant written by the stack (`<state dir>/demo.json`). */
export function demo(stateDir) {
  return JSON.parse(readFileSync(join(stateDir, 'demo.json'), 'utf8'));
}

/** A JSON request; throws with the answer's text unless it is 2xx. */
export async function call(base, method, path, { token, body, headers = {} } = {}) {
  const response = await fetch(base + path, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

let sequence = 0;

/** Posts a customer's WhatsApp message to the webhook, signed with the app secret as Meta does. */
export async function customerWrites(d, { waId, name, message }) {
  sequence += 1;
  await webhook(d, {
    contacts: [{ profile: { name }, wa_id: waId }],
    messages: [{
      from: waId,
      id: `wamid.console${randomUUID().replaceAll('-', '')}${sequence}`,
      timestamp: String(Math.floor(Date.now() / 1000)),
      ...message,
    }],
  });
}

/** Posts Meta's status webhook for a message the business sent. */
export async function statusArrives(d, { waId, wamid, status, callback }) {
  await webhook(d, {
    statuses: [{
      id: wamid,
      status,
      timestamp: String(Math.floor(Date.now() / 1000)),
      recipient_id: waId,
      ...(callback ? { biz_opaque_callback_data: callback } : {}),
    }],
  });
}

/** A signed `messages` webhook of the demo's number with `value` (messages or statuses). */
async function webhook(d, value) {
  const payload = {
    object: 'whatsapp_business_account',
    entry: [{
      id: d.waba_id,
      changes: [{
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: d.display_phone_number, phone_number_id: d.phone_number_id },
          ...value,
        },
      }],
    }],
  };
  const raw = JSON.stringify(payload);
  const signature = createHmac('sha256', d.app_secret).update(raw).digest('hex');
  const response = await fetch(`${d.base_url}/webhooks/meta`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${signature}` },
    body: raw,
  });
  // Read whole either way: an unread body keeps its connection, and node, from ever closing.
  const text = await response.text();
  if (response.status !== 200) throw new Error(`webhook: ${response.status} ${text}`);
}

/** Every request the sandbox Graph API received, oldest first. */
export async function outbox(base) {
  return call(base, 'GET', '/_sandbox/outbox');
}

/** Polls `probe` until it returns a truthy value, or throws `what` after `ms`. */
export async function until(what, probe, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
