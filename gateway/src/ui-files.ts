import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

// The dashboard's built files (dashboard/dist) under /ui/, for `make start`:
// GET and HEAD only, no directory listings, nothing outside the folder. The
// app routes with the URL's hash, so every page is /ui/ itself and no
// fallback to index.html is needed. Vite names assets by content hash:
// they may be cached for good; index.html must be revalidated.

export const UI_PREFIX = '/ui/';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

// Same-origin only: the page talks to this origin's Connect routes and nothing else.
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
};

export function isUiPath(url: string | undefined): boolean {
  const path = (url ?? '/').split('?')[0]!;
  return path === '/ui' || path.startsWith(UI_PREFIX);
}

export interface UiFiles {
  /** Answers a request whose path isUiPath; resolves to the HTTP status sent. */
  serve(request: IncomingMessage, response: ServerResponse): Promise<number>;
}

export function createUiFiles(directory: string): UiFiles {
  const root = resolve(directory);
  return {
    async serve(request, response) {
      const path = (request.url ?? '/').split('?')[0]!;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return plain(response, 405, 'method not allowed', { allow: 'GET, HEAD' });
      }
      if (path === '/ui') return plain(response, 308, 'see /ui/', { location: '/ui/' });
      let relative: string;
      try {
        relative = decodeURIComponent(path.slice(UI_PREFIX.length));
      } catch {
        return plain(response, 400, 'malformed path');
      }
      if (relative === '' || relative.endsWith('/')) relative += 'index.html';
      if (relative.includes('\0')) return plain(response, 400, 'malformed path');
      const file = await existingFileWithin(root, relative);
      if (!file) {
        if (relative === 'index.html') {
          return plain(response, 404, 'the dashboard is not built: run `make dashboard` (make start does it)');
        }
        return plain(response, 404, 'not found');
      }
      const immutable = relative.startsWith('assets/');
      response.writeHead(200, {
        'content-type': CONTENT_TYPES[extname(file.path)] ?? 'application/octet-stream',
        'content-length': file.size,
        'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        ...SECURITY_HEADERS,
      });
      if (request.method === 'HEAD') {
        response.end();
        return 200;
      }
      await new Promise<void>((done) => {
        const stream = createReadStream(file.path);
        stream.on('error', () => {
          response.destroy();
          done();
        });
        response.on('close', () => {
          stream.destroy();
          done();
        });
        stream.pipe(response);
      });
      return 200;
    },
  };
}

/** The file's real path and size when it is a regular file inside root (symlinks resolved). */
async function existingFileWithin(root: string, relative: string): Promise<{ path: string; size: number } | undefined> {
  try {
    const realRoot = await realpath(root);
    const path = await realpath(join(realRoot, relative));
    if (!path.startsWith(realRoot + sep)) return undefined;
    const info = await stat(path);
    return info.isFile() ? { path, size: info.size } : undefined;
  } catch {
    return undefined;
  }
}

function plain(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): number {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
  return status;
}
