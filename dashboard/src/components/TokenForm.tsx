import { useState } from 'preact/hooks';
import { tokenStore } from '../api.js';
import { useApi } from '../query-hooks.js';

/** The API token for deployments with authentication on; sent as a Bearer token with every call. */
export function TokenForm() {
  const { queries } = useApi();
  const [token, setToken] = useState(tokenStore.get());
  const [saved, setSaved] = useState(tokenStore.get() !== '');
  function save(event: Event) {
    event.preventDefault();
    tokenStore.set(token.trim());
    setSaved(token.trim() !== '');
    void queries.invalidateQueries();
  }
  return (
    <details class="token">
      <summary>API token{saved ? ' (set)' : ''}</summary>
      <form onSubmit={save}>
        <label for="api-token">Bearer token (kept in this tab only)</label>
        <input id="api-token" type="password" autocomplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        <button type="submit">Save</button>
      </form>
    </details>
  );
}
