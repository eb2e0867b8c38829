import { useEffect, useState } from 'preact/hooks';

// Routing by the URL's hash (#/, #/task/<id>): every page is /ui/ for the
// server, so any static file server can serve the dashboard unchanged.

export type Route = { page: 'home' } | { page: 'task'; taskId: string };

export function parseRoute(hash: string): Route {
  const match = /^#\/task\/([^/?#]+)$/.exec(hash);
  if (match) return { page: 'task', taskId: decodeURIComponent(match[1]!) };
  return { page: 'home' };
}

export function taskHref(taskId: string): string {
  return `#/task/${encodeURIComponent(taskId)}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
