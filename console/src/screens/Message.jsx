// One message of a thread: text, media (fetched through the API with the token), and for the
// business's messages the delivery ticks or the failure.

import { useEffect, useState } from 'preact/hooks';
import { request } from '../api.js';
import { messageText, when } from '../format.js';

const MEDIA = ['image', 'sticker', 'audio', 'video', 'document'];

const TICKS = {
  queued: ['🕓', 'Queued'],
  unknown: ['?', 'Outcome unknown'],
  sent: ['✓', 'Sent'],
  delivered: ['✓✓', 'Delivered'],
  read: ['✓✓', 'Read'],
  failed: ['!', 'Failed'],
  blocked: ['!', 'Blocked'],
};

/** The media of an inbound message, as an object URL (the API needs the Authorization header). */
function Media({ kind, media }) {
  const [url, setUrl] = useState(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (!media?.id) return undefined;
    let objectUrl = null;
    request('GET', `/v1/media/${encodeURIComponent(media.id)}`, { raw: true })
      .then((response) => response.blob())
      .then((blob) => setUrl((objectUrl = URL.createObjectURL(blob))))
      .catch(() => setFailed(true));
    return () => objectUrl && URL.revokeObjectURL(objectUrl);
  }, [media?.id]);
  const label = media?.filename || `${kind}${media?.mime_type ? ` (${media.mime_type})` : ''}`;
  if (failed || !media?.id) return <span class="media-missing">📎 {label} — not available</span>;
  if (!url) return <span class="muted">Loading {kind}…</span>;
  if (kind === 'image' || kind === 'sticker') return <img class="media" src={url} alt={media.caption || `${kind} from the customer`} />;
  if (kind === 'audio') return <audio class="media" controls src={url} aria-label="Voice message" />;
  if (kind === 'video') return <video class="media" controls src={url} aria-label="Video" />;
  return <a href={url} download={media.filename || 'document'}>📄 {label}</a>;
}

export function Message({ message }) {
  const outbound = message.direction === 'outbound';
  const kind = message.type || message.payload?.type;
  const text = messageText(message);
  const [tick, tickLabel] = TICKS[message.status] || ['', message.status];
  const failed = message.status === 'failed' || message.status === 'blocked';
  return (
    <li class={`msg ${outbound ? 'out' : 'in'} ${failed ? 'failed' : ''}`} data-message={message.id}>
      <div class="bubble">
        {MEDIA.includes(kind) && <Media kind={kind} media={message.payload?.[kind]} />}
        {text && <p class="msg-text">{text}</p>}
        {!text && !MEDIA.includes(kind) && <p class="msg-text muted">[{kind}]</p>}
        <span class="msg-meta">
          <time dateTime={new Date(message.timestamp).toISOString()}>{when(message.timestamp)}</time>
          {outbound && (
            <span class={`tick tick-${message.status}`} title={tickLabel} aria-label={tickLabel} data-status={message.status}>
              {tick}
            </span>
          )}
        </span>
        {failed && (
          <p class="msg-error" role="note">
            Not delivered{message.error ? `: ${message.error.title || message.error.message || message.error.code || ''}` : ''}
          </p>
        )}
      </div>
    </li>
  );
}
