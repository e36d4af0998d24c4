// Hand-made SVG charts: no charting library (the bundle stays small). Each has a title and a
// text summary for screen readers.

/** Grouped vertical bars over time: `series` = [{key, label, cls}], `points` = [{t, ...values}]. */
export function Bars({ title, points, series, format }) {
  const width = 960;
  const height = 200;
  const pad = { l: 32, r: 8, t: 8, b: 22 };
  // An even top, so that the middle grid line is a whole number.
  const top = Math.max(1, ...points.flatMap((p) => series.map((s) => p[s.key] || 0)));
  const max = Math.ceil(top / 2) * 2;
  const slot = (width - pad.l - pad.r) / Math.max(1, points.length);
  const bar = Math.max(1, (slot * 0.8) / series.length);
  const y = (v) => pad.t + (height - pad.t - pad.b) * (1 - v / max);
  const every = Math.ceil(points.length / 8);
  const totals = series.map((s) => `${s.label}: ${points.reduce((n, p) => n + (p[s.key] || 0), 0)}`).join(', ');
  return (
    <figure class="chart wide">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}. ${totals}`}>
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line x1={pad.l} x2={width - pad.r} y1={y(max * f)} y2={y(max * f)} class="grid" />
            <text x={pad.l - 4} y={y(max * f) + 4} class="axis" text-anchor="end">{Math.round(max * f)}</text>
          </g>
        ))}
        {points.map((p, i) => (
          <g key={p.t}>
            {series.map((s, j) => (
              <rect
                key={s.key}
                class={s.cls}
                x={pad.l + i * slot + slot * 0.1 + j * bar}
                y={y(p[s.key] || 0)}
                width={bar}
                height={height - pad.b - y(p[s.key] || 0)}
              >
                <title>{`${format(p.t)} — ${s.label}: ${p[s.key] || 0}`}</title>
              </rect>
            ))}
            {i % every === 0 && (
              <text x={pad.l + i * slot + slot / 2} y={height - 6} class="axis" text-anchor="middle">{format(p.t)}</text>
            )}
          </g>
        ))}
      </svg>
      <ul class="legend">
        {series.map((s) => <li key={s.key}><span class={`swatch ${s.cls}`} aria-hidden="true" />{s.label}</li>)}
      </ul>
    </figure>
  );
}

/** Horizontal bars for a few labelled values (queue depth, p50/p90 times). */
export function HBars({ title, rows, format = String }) {
  const max = Math.max(1, ...rows.map((r) => r.value || 0));
  const rowHeight = 26;
  const height = rows.length * rowHeight + 4;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      {rows.length === 0 ? (
        <p class="muted small">No data.</p>
      ) : (
        <svg viewBox={`0 0 400 ${height}`} role="img" aria-label={`${title}. ${rows.map((r) => `${r.label}: ${r.value === null ? 'no data' : format(r.value)}`).join(', ')}`}>
          {rows.map((r, i) => (
            <g key={r.label}>
              <text x="0" y={i * rowHeight + 17} class="axis">{r.label}</text>
              <rect x="120" y={i * rowHeight + 4} height="18" width={Math.max(r.value ? 2 : 0, (220 * (r.value || 0)) / max)} class={r.cls || 'bar-a'} />
              <text x={126 + (220 * (r.value || 0)) / max} y={i * rowHeight + 17} class="axis">{r.value === null ? '—' : format(r.value)}</text>
            </g>
          ))}
        </svg>
      )}
    </figure>
  );
}
