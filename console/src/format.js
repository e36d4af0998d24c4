// Small display helpers shared by the screens.

/** "3m", "2h 5m", "1d 4h" for a duration in seconds. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** A time of day today, else a date and time. */
export function when(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const today = new Date();
  return d.toDateString() === today.toDateString()
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** The 24-hour window as a short label and whether it is open. */
export function windowLabel(window) {
  if (!window?.open) return { open: false, text: 'Window closed' };
  return { open: true, text: `${duration(window.seconds_left)} left` };
}

/** The name shown for a contact. */
export const contactLabel = (name, fallback) => name || fallback || 'Unknown contact';

/** The text of a message for display (its body, caption or type). */
export function messageText(message) {
  const p = message.payload || {};
  const type = message.type || p.type;
  if (p.text?.body) return p.text.body;
  if (p[type]?.caption) return p[type].caption;
  if (type === 'interactive') {
    const i = p.interactive || {};
    return i.body?.text || i.button_reply?.title || i.list_reply?.title || 'interactive message';
  }
  if (type === 'button') return p.button?.text || 'button';
  if (type === 'template') return `Template: ${p.template?.name || ''}`;
  if (type === 'location') return `Location: ${p.location?.name || ''} ${p.location?.latitude ?? ''},${p.location?.longitude ?? ''}`;
  if (type === 'reaction') return `Reaction ${p.reaction?.emoji || ''}`;
  return '';
}
