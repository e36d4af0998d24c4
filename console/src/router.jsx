// Path routing under the console's base (`/console/`): the server answers index.html for every
// path below it, so a reload or a shared link opens the same screen.

import { useEffect, useState } from 'preact/hooks';

const BASE = new URL(document.baseURI).pathname.replace(/\/$/, '');

/** The path below the base, e.g. `/c/cv_1` or `/dashboard`. */
export const currentPath = () => location.pathname.slice(BASE.length) || '/';

/** Goes to a path below the base. */
export function navigate(path, { replace = false } = {}) {
  history[replace ? 'replaceState' : 'pushState'](null, '', BASE + path);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** The current path, re-rendering on navigation. */
export function usePath() {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const update = () => setPath(currentPath());
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return path;
}

/** A link that navigates without a reload. */
export function Link({ to, children, ...props }) {
  const onClick = (event) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={BASE + to} onClick={onClick} {...props}>
      {children}
    </a>
  );
}
