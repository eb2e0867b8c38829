import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of the suite's PostgreSQL or RabbitMQ that can become
 * a blackhole: while it holds, nothing is forwarded in either direction and
 * nothing is closed or reset, which is what a broken network or a failed-over
 * host looks like to both ends (packets vanish; no FIN, no RST).
 *
 * - Bytes in flight stop where they are: the proxy stops reading (so each
 *   sender's socket buffer fills as it would against an unacknowledged TCP
 *   window) and keeps what it had already read.
 * - A close or reset from either end is not passed on until the hole lifts,
 *   as a FIN or RST that cannot cross the network would arrive only later.
 * - New connections are accepted but get no byte from the server: a client
 *   sees its connection open and then silence, as after a SYN to an address
 *   that no longer answers, so only the client's own time bounds end the
 *   wait (connect timeouts, statement and query timeouts, heartbeats).
 *
 * One difference from packets dropped by the kernel: the proxy's end of the
 * TCP connection is alive, so TCP keepalive probes are answered. Only
 * application-level bounds can notice this blackhole, which makes it the
 * stricter test.
 *
 * When the hole lifts, held bytes and closes are delivered in order and
 * pending connections are made, as TCP's retransmissions would after a short
 * outage.
 */
export class BlackholeProxy {
  private holding = false;
  private readonly links = new Set<Link>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** Listens on a free port of 127.0.0.1 and forwards to `targetPort` there. */
  static async start(targetPort: number): Promise<BlackholeProxy> {
    let proxy: BlackholeProxy | undefined;
    const server = createServer((client) => proxy?.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    proxy = new BlackholeProxy(server, (server.address() as AddressInfo).port, { host: '127.0.0.1', port: targetPort });
    return proxy;
  }

  /** The same URL, with host and port rewritten to go through this proxy. */
  via(url: string): string {
    const rewritten = new URL(url);
    rewritten.hostname = '127.0.0.1';
    rewritten.port = String(this.port);
    return rewritten.toString();
  }

  /** Connections currently open through the proxy. */
  get connections(): number {
    return this.links.size;
  }

  get blackholed(): boolean {
    return this.holding;
  }

  /** Stops forwarding, without closing anything. */
  hold(): void {
    this.holding = true;
    for (const link of this.links) link.hold();
  }

  /** Forwards again: held bytes, closes and connections go through in order. */
  release(): void {
    this.holding = false;
    for (const link of this.links) link.release();
  }

  async close(): Promise<void> {
    this.holding = false;
    for (const link of this.links) link.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const link = new Link(client, this.target, () => this.links.delete(link));
    this.links.add(link);
    if (this.holding) link.hold();
    else link.open();
  }
}

/** One client connection and its upstream twin. */
class Link {
  private upstream: Socket | null = null;
  private held = false;
  private done = false;
  private readonly toUpstream = new Direction();
  private readonly toClient = new Direction();

  constructor(
    private readonly client: Socket,
    private readonly target: { host: string; port: number },
    private readonly onClosed: () => void,
  ) {
    client.setNoDelay(true);
    this.wire(client, this.toUpstream, () => this.upstream);
  }

  /** Connects upstream (at once, or when a hold that began before the connection ends). */
  open(): void {
    if (this.upstream || this.done) return;
    const upstream = connect(this.target);
    upstream.setNoDelay(true);
    this.upstream = upstream;
    this.wire(upstream, this.toClient, () => this.client);
    // What the client sent while the connection was pending goes now.
    this.toUpstream.flush(upstream);
  }

  hold(): void {
    this.held = true;
    this.client.pause();
    this.upstream?.pause();
  }

  release(): void {
    this.held = false;
    if (!this.upstream) this.open();
    if (this.upstream) this.toUpstream.flush(this.upstream);
    this.toClient.flush(this.client);
    this.client.resume();
    this.upstream?.resume();
  }

  destroy(): void {
    this.done = true;
    this.client.destroy();
    this.upstream?.destroy();
  }

  /** Forwards what `from` reads to `to()`, or keeps it while held; a close follows the bytes. */
  private wire(from: Socket, queue: Direction, to: () => Socket | null): void {
    from.on('data', (chunk: Buffer) => {
      const target = to();
      if (this.held || !target) queue.keep(chunk);
      else if (!target.write(chunk)) {
        // Backpressure: read no more until the other side has taken it.
        from.pause();
        target.once('drain', () => !this.held && from.resume());
      }
    });
    const passOnClose = (kind: 'end' | 'reset') => {
      const target = to();
      if (this.held || !target) queue.keepClose(kind);
      else Direction.close(target, kind);
    };
    from.once('end', () => passOnClose('end'));
    from.on('error', () => passOnClose('reset'));
    from.once('close', () => {
      if (!this.client.destroyed || (this.upstream && !this.upstream.destroyed)) return;
      this.done = true;
      this.onClosed();
    });
  }
}

/** What one direction of a link holds while the hole is open. */
class Direction {
  private chunks: Buffer[] = [];
  private closing: 'end' | 'reset' | null = null;

  keep(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  keepClose(kind: 'end' | 'reset'): void {
    this.closing ??= kind;
  }

  flush(to: Socket): void {
    for (const chunk of this.chunks) to.write(chunk);
    this.chunks = [];
    if (this.closing) Direction.close(to, this.closing);
    this.closing = null;
  }

  static close(socket: Socket, kind: 'end' | 'reset'): void {
    if (kind === 'end') socket.end();
    else socket.destroy();
  }
}
