// A thin REST client for the contract suite: raw status, headers and text,
// so tests can check exact bytes as well as parsed JSON.

export interface RestAnswer {
  status: number;
  contentType: string | null;
  text: string;
  /** The body parsed as JSON (undefined if it is not JSON). */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export class RestClient {
  /** `headers` go with every request (a deployment's bearer token). */
  constructor(
    private readonly baseUrl: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  async send(method: string, path: string, options: { body?: string; contentType?: string | null } = {}): Promise<RestAnswer> {
    const headers: Record<string, string> = { ...this.headers };
    const contentType = options.contentType === undefined ? 'application/json' : options.contentType;
    if (options.body !== undefined && contentType !== null) headers['content-type'] = contentType;
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: options.body });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, contentType: response.headers.get('content-type'), text, json };
  }

  createTask(content: unknown): Promise<RestAnswer> {
    return this.send('POST', '/task', { body: JSON.stringify({ content }) });
  }

  getTask(id: string): Promise<RestAnswer> {
    return this.send('GET', `/task/${encodeURIComponent(id)}`);
  }

  cancelTask(id: string): Promise<RestAnswer> {
    return this.send('PATCH', `/task/${encodeURIComponent(id)}/cancel`);
  }
}
