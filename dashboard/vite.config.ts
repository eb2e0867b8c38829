import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard is served under /ui/ (by the embedded gateway for `make
// start`, by the compose file's static server behind Envoy), so every asset
// URL is relative to that base. Preact's automatic JSX runtime, no plugin:
// Vite's own transform handles TSX.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  resolve: { conditions: ['development'] },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev -w dashboard` against a running `make start`.
    proxy: { '/taskproc.v1.TaskService': 'http://127.0.0.1:8080' },
  },
});
