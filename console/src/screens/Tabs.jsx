// Tabs as the ARIA pattern has them: one tab stop, arrow keys (and Home/End) move between tabs.

import { useRef } from 'preact/hooks';

export function Tabs({ label, tabs, value, onChange }) {
  const list = useRef(null);
  const onKeyDown = (event) => {
    const index = tabs.findIndex(([id]) => id === value);
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = tabs[(moves[event.key] + tabs.length) % tabs.length][0];
    onChange(next);
    setTimeout(() => list.current?.querySelector('[aria-selected="true"]')?.focus());
  };
  return (
    <div class="tabs" role="tablist" aria-label={label} ref={list} onKeyDown={onKeyDown}>
      {tabs.map(([id, text]) => (
        <button
          type="button"
          role="tab"
          aria-selected={value === id}
          tabIndex={value === id ? 0 : -1}
          class={value === id ? 'active' : ''}
          onClick={() => onChange(id)}
          key={id}
        >
          {text}
        </button>
      ))}
    </div>
  );
}
