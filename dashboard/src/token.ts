import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';

// The API token (a JWT) for a deployment with authentication on. It is kept
// in this tab's session storage, so it is gone when the tab closes and is
// never sent anywhere but this origin's API. A token the API refuses
// (expired, revoked key, ...) is forgotten at once, and the page says why,
// rather than sending it again with every call.

const KEY = 'taskproc.token';

/** Why the page asks for a token: the one it had was refused, or the API wants one and there is none. */
export interface TokenNotice {
  kind: 'refused' | 'missing';
  message: string;
}

type Listener = () => void;

export class TokenStore {
  private noticeNow: TokenNotice | null = null;
  /** Counts the tokens a user saved, so that long-lived streams can start over with a new one. */
  private savedCount = 0;
  private readonly listeners = new Set<Listener>();

  constructor(private readonly storage: Storage = sessionStorage) {}

  get(): string {
    return this.storage.getItem(KEY) ?? '';
  }

  /** The user saved a token (empty: removed it). */
  set(token: string): void {
    if (token) this.storage.setItem(KEY, token);
    else this.storage.removeItem(KEY);
    this.noticeNow = null;
    this.savedCount += 1;
    this.changed();
  }

  get notice(): TokenNotice | null {
    return this.noticeNow;
  }

  get saves(): number {
    return this.savedCount;
  }

  /**
   * An UNAUTHENTICATED answer to a call that carried `sent` ('' for none).
   * A refused token is cleared, unless the user has saved another since
   * the call went out; the first refusal's reason stays on show while the
   * calls that follow (now without a token) are refused too.
   */
  refused(sent: string, reason: string): void {
    if (sent !== '') {
      if (this.get() !== sent) return;
      this.storage.removeItem(KEY);
      this.noticeNow = { kind: 'refused', message: `The API refused the token (${reason}), so it was cleared. Paste a new one.` };
    } else if (this.noticeNow === null && this.get() === '') {
      this.noticeNow = { kind: 'missing', message: 'The API needs a token: authentication is on. Paste one below.' };
    } else {
      return;
    }
    this.changed();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

/**
 * Sends the store's token as `authorization: Bearer <token>` and reports
 * every UNAUTHENTICATED answer back to it, for unary calls and for streams
 * (whose refusal arrives as the stream's error, after the response began).
 */
export function bearerTokenInterceptor(store: TokenStore): Interceptor {
  return (next) => async (request) => {
    const sent = store.get();
    if (sent) request.header.set('authorization', `Bearer ${sent}`);
    const report = (error: unknown) => {
      if (error instanceof ConnectError && error.code === Code.Unauthenticated) store.refused(sent, error.rawMessage || 'unauthenticated');
    };
    try {
      const response = await next(request);
      if (!response.stream) return response;
      return { ...response, message: reportingFailures(response.message, report) };
    } catch (error) {
      report(error);
      throw error;
    }
  };
}

async function* reportingFailures<T>(messages: AsyncIterable<T>, report: (error: unknown) => void): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    report(error);
    throw error;
  }
}
