/**
 * A long-lived connection to one database that comes back after the server restarts: callers
 * ask for the current connection (schema fetched, caches loaded) and get a fresh one, dialled
 * with backoff, once the old one has closed. Whoever keeps state derived from a cache hears
 * `onConnect` and resyncs from the new cache.
 */
import { type ClientOptions, OvsdbClient } from "./client.ts";
import { type MonitorRequest, RowCache } from "./monitor.ts";
import type { DbSchema } from "./values.ts";

export interface Connection {
  client: OvsdbClient;
  schema: DbSchema;
  /** Present when the session was created with tables to cache. */
  cache?: RowCache;
}

export interface SessionOptions extends ClientOptions {
  /** Tables (and columns) to keep in a RowCache on every connection. */
  cache?: Record<string, MonitorRequest>;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class OvsdbSession {
  private current?: Connection;
  private connecting?: Promise<Connection>;
  private closedByUser = false;
  private listeners: Array<(c: Connection) => void | Promise<void>> = [];
  /** Connections made so far (1 after the first). */
  connects = 0;

  constructor(
    readonly remote: string,
    readonly db: string,
    private readonly opts: SessionOptions = {},
  ) {}

  /** Called with every new connection once its cache is loaded (and now, if connected). */
  onConnect(fn: (c: Connection) => void | Promise<void>): void {
    this.listeners.push(fn);
    if (this.current && !this.current.client.isClosed) void fn(this.current);
  }

  /** The live connection, dialling once (no retry) when there is none. */
  get(): Promise<Connection> {
    if (this.closedByUser) return Promise.reject(new Error(`${this.remote}: session closed`));
    if (this.current && !this.current.client.isClosed) return Promise.resolve(this.current);
    this.connecting ??= this.dial().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** Like get(), retrying with backoff until it connects or the signal aborts. */
  async getRetrying(signal?: AbortSignal, onError?: (e: unknown) => void): Promise<Connection> {
    let delay = this.opts.minBackoffMs ?? 250;
    for (;;) {
      try {
        return await this.get();
      } catch (e) {
        if (this.closedByUser || signal?.aborted) throw e;
        onError?.(e);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, this.opts.maxBackoffMs ?? 5000);
      }
    }
  }

  get connected(): boolean {
    return !!this.current && !this.current.client.isClosed;
  }

  close(): void {
    this.closedByUser = true;
    this.current?.client.close();
    this.current = undefined;
  }

  private async dial(): Promise<Connection> {
    const client = await OvsdbClient.connect(this.remote, this.opts);
    try {
      const schema = await client.getSchema(this.db);
      const cache = this.opts.cache
        ? await RowCache.start(client, this.db, schema, structuredClone(this.opts.cache))
        : undefined;
      const conn: Connection = { client, schema, cache };
      if (this.closedByUser) throw new Error(`${this.remote}: session closed`);
      this.current = conn;
      this.connects++;
      for (const l of this.listeners) await l(conn);
      return conn;
    } catch (e) {
      client.close();
      throw e;
    }
  }
}
