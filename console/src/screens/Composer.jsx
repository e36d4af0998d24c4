// The reply box: free text while the 24-hour window is open (canned responses by `/shortcut`,
// AI suggestions when the tenant turned them on), approved templates with their parameters once
// it is closed.

import { useEffect, useRef, useState } from 'preact/hooks';
import { get, postJson, request, send, query, ApiError } from '../api.js';

/** Canned responses whose shortcut starts with what follows the `/`. */
function useCanned(text) {
  const [all, setAll] = useState([]);
  useEffect(() => {
    get('/v1/canned-responses').then((d) => setAll(d.items || [])).catch(() => setAll([]));
  }, []);
  const match = /^\/([a-z0-9_-]*)$/.exec(text);
  return match ? all.filter((c) => c.shortcut.startsWith(match[1])).slice(0, 8) : [];
}

/** Up to three AI replies, asked for on demand; `off` once the tenant's AI answers 409. */
function Suggestions({ conversationId, onPick }) {
  const [state, setState] = useState({ status: 'idle', items: [] });
  const ask = async () => {
    setState({ status: 'asking', items: [] });
    try {
      const { id } = await postJson(`/v1/conversations/${conversationId}/suggestions`, { kind: 'replies' });
      for (let i = 0; i < 40; i += 1) {
        const s = await get(`/v1/conversations/${conversationId}/suggestions/${id}`);
        if (s.status === 'ready') {
          const items = s.replies || s.result?.replies || s.suggestions || [];
          return setState({ status: 'ready', items: items.map((r) => (typeof r === 'string' ? r : r.text)) });
        }
        if (s.status === 'failed' || s.status === 'refused') return setState({ status: 'error', items: [], message: s.reason || 'No suggestion this time.' });
        await new Promise((r) => setTimeout(r, 750));
      }
      setState({ status: 'error', items: [], message: 'The suggestion took too long.' });
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) setState({ status: 'off', items: [], message: e.message });
      else setState({ status: 'error', items: [], message: e.message });
    }
  };
  if (state.status === 'off') return null;
  return (
    <div class="suggestions">
      <button type="button" class="ghost small" onClick={ask} disabled={state.status === 'asking'}>
        {state.status === 'asking' ? 'Thinking…' : 'Suggest replies'}
      </button>
      {state.items.map((text, i) => (
        <button type="button" class="chip" onClick={() => onPick(text)} key={i}>{text}</button>
      ))}
      {state.message && <span class="muted small">{state.message}</span>}
    </div>
  );
}

function TemplateForm({ to, templates, onSent }) {
  const [all, setAll] = useState([]);
  const [choice, setChoice] = useState('');
  const [params, setParams] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => {
    get('/v1/templates').then((d) => setAll(d.items || [])).catch(() => setAll([]));
  }, []);
  const chosen = templates.find((t) => `${t.name}|${t.language}` === choice);
  const detail = chosen && all.find((t) => t.name === chosen.name && t.language === chosen.language);
  const count = detail?.body_parameters ?? 0;
  useEffect(() => setParams(Array(count).fill('')), [choice, count]);
  const submit = async (event) => {
    event.preventDefault();
    if (!chosen) return;
    setError('');
    const template = { name: chosen.name, language: { code: chosen.language } };
    if (count) template.components = [{ type: 'body', parameters: params.map((text) => ({ type: 'text', text })) }];
    try {
      await send({ to, type: 'template', template });
      setChoice('');
      onSent();
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <form class="composer" onSubmit={submit} aria-label="Send a template">
      <p class="muted small">The 24-hour window is closed: only an approved template can be sent.</p>
      {templates.length === 0 ? (
        <p class="muted">No approved template. Sync templates first.</p>
      ) : (
        <>
          <label>
            Template
            <select aria-label="Template" value={choice} onChange={(e) => setChoice(e.currentTarget.value)} required>
              <option value="">Choose…</option>
              {templates.map((t) => (
                <option value={`${t.name}|${t.language}`} key={`${t.name}|${t.language}`}>{t.name} ({t.language})</option>
              ))}
            </select>
          </label>
          {params.map((value, i) => (
            <label key={i}>
              {`Parameter {{${i + 1}}}`}
              <input
                value={value}
                required
                onInput={(e) => setParams(params.map((p, j) => (j === i ? e.currentTarget.value : p)))}
              />
            </label>
          ))}
          <button type="submit" disabled={!chosen || !to}>Send template</button>
        </>
      )}
      {error && <p role="alert" class="error">{error}</p>}
    </form>
  );
}

/** The Cloud API message type for a file (what `POST /v1/messages` takes with a media id). */
function mediaKind(mime) {
  if (mime === 'image/webp') return 'sticker';
  if (/^image\/(jpeg|png)$/.test(mime)) return 'image';
  if (mime.startsWith('audio/')) return 'audio';
  if (mime.startsWith('video/')) return 'video';
  return 'document';
}

/** Attaching a file: uploaded through the API (`POST /v1/media`), then sent by its id. */
function Attach({ to, caption, onSent, onError }) {
  const [busy, setBusy] = useState(false);
  const pick = async (event) => {
    const file = event.currentTarget.files?.[0];
    event.currentTarget.value = '';
    if (!file || !to) return;
    setBusy(true);
    try {
      const mime = file.type || 'application/octet-stream';
      const uploaded = await request('POST', `/v1/media${query({ filename: file.name })}`, {
        body: file,
        headers: { 'content-type': mime },
      });
      const kind = mediaKind(mime);
      const media = { id: uploaded.id };
      if (kind === 'document') media.filename = file.name;
      if (caption() && kind !== 'audio' && kind !== 'sticker') media.caption = caption();
      await send({ to, type: kind, [kind]: media });
      onSent(Boolean(media.caption));
    } catch (e) {
      onError(e.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <label class={`attach ${busy ? 'busy' : ''}`} title="Attach a file (the reply's text becomes its caption)">
      <span>{busy ? 'Sending…' : '+ Attach a file'}</span>
      <input type="file" class="visually-hidden" onChange={pick} disabled={busy || !to} aria-label="Attach a file" />
    </label>
  );
}

export function Composer({ conversation, contact, onSent }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [active, setActive] = useState(0);
  const box = useRef(null);
  const canned = useCanned(text);
  const to = contact?.phone;

  if (!conversation.window?.open) {
    return <TemplateForm to={to} templates={conversation.templates || []} onSent={onSent} />;
  }

  const useCannedItem = async (item) => {
    try {
      const rendered = await postJson(`/v1/canned-responses/${item.id}/render`, { conversation_id: conversation.id });
      setText(rendered.text);
    } catch {
      setText(item.text);
    }
    box.current?.focus();
  };

  const submit = async (event) => {
    event?.preventDefault();
    const body = text.trim();
    if (!body || !to || busy) return;
    setBusy(true);
    setError('');
    try {
      await send({ to, type: 'text', text: { body } });
      setText('');
      onSent();
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
      box.current?.focus();
    }
  };

  const onKeyDown = (event) => {
    if (canned.length) {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        const step = event.key === 'ArrowDown' ? 1 : -1;
        setActive((active + step + canned.length) % canned.length);
        return;
      }
      if (event.key === 'Enter' || event.key === 'Tab') {
        event.preventDefault();
        useCannedItem(canned[Math.min(active, canned.length - 1)]);
        return;
      }
    }
    if (event.key === 'Enter' && !event.shiftKey) submit(event);
  };

  return (
    <form class="composer" onSubmit={submit} aria-label="Reply">
      <Suggestions conversationId={conversation.id} onPick={(t) => { setText(t); box.current?.focus(); }} />
      {canned.length > 0 && (
        <ul class="canned" role="listbox" id="canned-list" aria-label="Canned responses">
          {canned.map((c, i) => (
            <li
              id={`canned-${c.id}`}
              role="option"
              aria-selected={i === active}
              class={i === active ? 'active' : ''}
              onMouseDown={(e) => { e.preventDefault(); useCannedItem(c); }}
              key={c.id}
            >
              <strong>/{c.shortcut}</strong> <span class="muted">{c.title || c.text.slice(0, 60)}</span>
            </li>
          ))}
        </ul>
      )}
      <div class="reply-row">
        <label for="reply" class="visually-hidden">Reply (type / for canned responses)</label>
        <textarea
          id="reply"
          ref={box}
          rows={2}
          value={text}
          placeholder="Reply…  (/ for canned responses, Shift+Enter for a new line)"
          onInput={(e) => { setText(e.currentTarget.value); setActive(0); }}
          onKeyDown={onKeyDown}
          aria-autocomplete="list"
          aria-controls={canned.length ? 'canned-list' : undefined}
          aria-activedescendant={canned.length ? `canned-${canned[Math.min(active, canned.length - 1)].id}` : undefined}
        />
        <button type="submit" disabled={busy || !text.trim()}>Send</button>
      </div>
      <Attach
        to={to}
        caption={() => text.trim()}
        onSent={(captioned) => { if (captioned) setText(''); onSent(); }}
        onError={setError}
      />
      {error && <p role="alert" class="error">{error}</p>}
    </form>
  );
}

