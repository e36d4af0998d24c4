// The contact panel: details, tags, attributes, consent state, leads, and the contact's notes,
// tasks and appointments.

import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import { when } from '../format.js';

/** Opted in or out by the latest accepted opt-in/opt-out of the ledger (oldest first). */
function consentState(ledger = []) {
  const decisive = ledger.filter((e) => !e.refused && (e.kind === 'opt_in' || e.kind === 'opt_out'));
  const last = decisive.sort((a, b) => a.at - b.at).at(-1);
  if (!last) return { label: 'No consent recorded', cls: 'closed' };
  const source = typeof last.source === 'string' ? last.source : last.source?.kind || '';
  return {
    label: `${last.kind === 'opt_in' ? 'Opted in' : 'Opted out'}${source ? ` (${source})` : ''} ${when(last.at)}`,
    cls: last.kind === 'opt_in' ? 'ok' : 'closed',
  };
}

function Records({ contactId, kind, title }) {
  const [items, setItems] = useState(null);
  useEffect(() => {
    get(`/v1/contacts/${contactId}/${kind}?limit=20`).then((d) => setItems(d.items || [])).catch(() => setItems([]));
  }, [contactId, kind]);
  if (!items?.length) return null;
  return (
    <section>
      <h4>{title}</h4>
      <ul class="plain">
        {items.map((r) => (
          <li key={r.id}>
            {r.text}
            <span class="muted small"> · {when(r.due_at || r.starts_at || r.created_at)}{r.done_at ? ' · done' : ''}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function ContactPanel({ contact }) {
  if (!contact) return <p class="muted pad">Loading contact…</p>;
  const consent = consentState(contact.consent_ledger);
  const attributes = Object.entries(contact.attributes || {});
  return (
    <div class="contact">
      <h3>{contact.name || 'Unknown contact'}</h3>
      <dl>
        <dt>Phone</dt>
        <dd>{contact.phone ? `+${contact.phone}` : '—'}</dd>
        {contact.email && (<><dt>Email</dt><dd>{contact.email}</dd></>)}
        <dt>First seen</dt>
        <dd>{when(contact.first_seen_at)}</dd>
        <dt>Consent</dt>
        <dd><span class={`badge ${consent.cls}`}>{consent.label}</span></dd>
        {contact.opted_out && (<><dt>Opt-out</dt><dd><span class="badge closed">opted out</span></dd></>)}
        {contact.restricted && (<><dt>Restricted</dt><dd><span class="badge closed">no sending</span></dd></>)}
        {attributes.map(([k, v]) => (
          <Fragment key={k}>
            <dt>{k}</dt>
            <dd>{String(v)}</dd>
          </Fragment>
        ))}
      </dl>
      <section>
        <h4>Tags</h4>
        {contact.tags?.length ? (
          <ul class="tags">{contact.tags.map((t) => <li class="badge" key={t}>{t}</li>)}</ul>
        ) : (
          <p class="muted small">None</p>
        )}
      </section>
      <section>
        <h4>Leads</h4>
        {contact.leads?.length ? (
          <ul class="plain">
            {contact.leads.map((l) => (
              <li key={l.id}>
                <span class="badge">{l.stage}</span> {typeof l.origin === 'string' ? l.origin : ''} <span class="muted small">{when(l.received_at)}</span>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted small">None</p>
        )}
      </section>
      <Records contactId={contact.id} kind="notes" title="Notes" />
      <Records contactId={contact.id} kind="tasks" title="Tasks" />
      <Records contactId={contact.id} kind="appointments" title="Appointments" />
    </div>
  );
}
