import { useEffect, useState } from 'preact/hooks';
import { useApi } from '../query-hooks.js';

/**
 * The API token for deployments with authentication on; sent as a Bearer
 * token with every call. Opens by itself, with the reason, when the API
 * refuses the token (which is then cleared) or asks for one.
 */
export function TokenForm() {
  const { queries, tokens } = useApi();
  const [token, setToken] = useState(tokens.get());
  const [saved, setSaved] = useState(tokens.get() !== '');
  const [notice, setNotice] = useState(tokens.notice);
  useEffect(
    () =>
      tokens.subscribe(() => {
        setNotice(tokens.notice);
        setSaved(tokens.get() !== '');
        if (tokens.notice?.kind === 'refused') setToken('');
      }),
    [tokens],
  );
  function save(event: Event) {
    event.preventDefault();
    tokens.set(token.trim());
    void queries.invalidateQueries();
  }
  return (
    <details class="token" open={notice !== null}>
      <summary>API token{saved ? ' (set)' : ''}</summary>
      {notice && (
        <p class="error" role="alert" data-token-notice={notice.kind}>
          {notice.message}
        </p>
      )}
      <form onSubmit={save}>
        <label for="api-token">Bearer token (kept in this tab only)</label>
        <input id="api-token" type="password" autocomplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        <button type="submit">Save</button>
      </form>
    </details>
  );
}
