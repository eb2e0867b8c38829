import { render } from 'preact';
import { createApi } from './api.js';
import { App } from './App.js';
import './styles.css';

const api = createApi();
// Refetch on focus and when the network comes back.
api.queries.mount();
render(<App api={api} />, document.getElementById('app')!);
