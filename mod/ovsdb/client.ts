/**
 * An OVSDB client (RFC 7047): JSON-RPC 1.0 over a TCP or unix stream, requests matched to
 * replies by id, monitor notifications dispatched to their handlers, and the echo keep-alive
 * in both directions (answer the server's probes; probe an idle server ourselves and close
 * the connection when it stays silent).
 */
import { ConnectionClosedError, OvsdbError, RequestTimeoutError, TransactError } from "./errors.ts";
import { JsonStreamSplitter } from "./framing.ts";
import type { Operation, OpResult } from "./ops.ts";
import { type DbSchema, parseSchema } from "./values.ts";

export type Remote = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

/** Parses `tcp:HOST:PORT` (`tcp:[v6]:PORT`) or `unix:/path`, the forms OVS tools take. */
export function parseRemote(remote: string): Remote {
  if (remote.startsWith("unix:")) {
    const path = remote.slice(5);
    if (!path.startsWith("/")) throw new TypeError(`${remote}: unix: needs an absolute path`);
    return { kind: "unix", path };
  }
  const m = /^tcp:(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(remote);
  if (m) {
    const port = Number(m[3]);
    if (port < 1 || port > 65535) throw new TypeError(`${remote}: port out of range`);
    return { kind: "tcp", host: m[1] ?? m[2], port };
  }
  if (remote.startsWith("ssl:")) {
    throw new TypeError(`${remote}: ssl: remotes are not supported; use tcp: or unix:`);
  }
  throw new TypeError(`${remote}: expected tcp:HOST:PORT or unix:/path`);
}

export interface ClientOptions {
  /** Idle time after which we send an echo, and then wait as long again (0: never). */
  probeIntervalMs?: number;
  connectTimeoutMs?: number;
  /** Default deadline of a request (0: none). */
  requestTimeoutMs?: number;
}

type Handler = (params: unknown[]) => void;
interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer?: ReturnType<typeof setTimeout>;
  method: string;
}

const enc = new TextEncoder();

export class OvsdbClient {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private monitors = new Map<string, Handler>();
  private writing: Promise<void> = Promise.resolve();
  private lastHeard = Date.now();
  private probeTimer?: ReturnType<typeof setInterval>;
  private closeError?: Error;
  private closedResolve!: (e: Error) => void;
  /** Resolves with the reason once the connection is closed, by either side. */
  readonly closed: Promise<Error>;
  /** Messages received and sent, for tests and the bench. */
  readonly stats = { received: 0, sent: 0, transacts: 0, echoesAnswered: 0 };

  private constructor(
    private readonly conn: Deno.Conn,
    readonly remote: string,
    private readonly opts: ClientOptions,
  ) {
    this.closed = new Promise((r) => (this.closedResolve = r));
    this.readLoop();
    const probe = opts.probeIntervalMs ?? 5000;
    if (probe > 0) this.probeTimer = setInterval(() => this.probe(probe), probe);
  }

  static async connect(remote: string, opts: ClientOptions = {}): Promise<OvsdbClient> {
    const r = parseRemote(remote);
    const dial = r.kind === "unix"
      ? Deno.connect({ transport: "unix", path: r.path })
      : Deno.connect({ hostname: r.host, port: r.port });
    const timeout = opts.connectTimeoutMs ?? 10_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const conn = await Promise.race([
        dial,
        new Promise<never>((_, rej) => {
          timer = setTimeout(
            () => rej(new RequestTimeoutError(`${remote}: connect timed out`)),
            timeout,
          );
        }),
      ]);
      return new OvsdbClient(conn, remote, opts);
    } catch (e) {
      dial.then((c) => c.close()).catch(() => {});
      if (e instanceof OvsdbError) throw e;
      throw new ConnectionClosedError(`${remote}: ${e instanceof Error ? e.message : e}`);
    } finally {
      clearTimeout(timer);
    }
  }

  get isClosed(): boolean {
    return this.closeError !== undefined;
  }

  /** Sends a request and resolves with its result; a JSON-RPC error rejects. */
  request<T = unknown>(method: string, params: unknown[], timeoutMs?: number): Promise<T> {
    if (this.closeError) return Promise.reject(this.closeError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { resolve: resolve as (v: unknown) => void, reject, method };
      const t = timeoutMs ?? this.opts.requestTimeoutMs ?? 0;
      if (t > 0) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new RequestTimeoutError(`${this.remote}: ${method} got no reply within ${t}ms`));
        }, t);
      }
      this.pending.set(id, p);
      this.send({ method, params, id }).catch((e) => {
        this.pending.delete(id);
        clearTimeout(p.timer);
        reject(e);
      });
    });
  }

  listDbs(): Promise<string[]> {
    return this.request<string[]>("list_dbs", []);
  }

  async getSchema(db: string): Promise<DbSchema> {
    return parseSchema(await this.request("get_schema", [db]));
  }

  echo(): Promise<unknown> {
    return this.request("echo", ["k8shost"]);
  }

  /**
   * Runs one transaction and checks every element of the answer: the first failed operation
   * (or a failed commit, reported as an extra element) throws TransactError.
   */
  async transact(db: string, ops: Operation[], timeoutMs?: number): Promise<OpResult[]> {
    this.stats.transacts++;
    const results = await this.request<Array<OpResult & { error?: string; details?: string }>>(
      "transact",
      [db, ...ops],
      timeoutMs,
    );
    if (!Array.isArray(results)) {
      throw new OvsdbError(`${this.remote}: transact answered ${JSON.stringify(results)}`);
    }
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      if (r && typeof r === "object" && typeof r.error === "string") {
        const what = i < ops.length ? `operation ${i} (${ops[i].op}` : "commit (";
        const table = i < ops.length && "table" in ops[i]
          ? ` ${(ops[i] as { table: string }).table}`
          : "";
        throw new TransactError(
          `${db}: ${what}${table}) failed: ${r.error}${r.details ? `: ${r.details}` : ""}`,
          r.error,
          r.details,
          i,
          ops[i],
        );
      }
    }
    if (results.length < ops.length) {
      throw new OvsdbError(
        `${db}: transact answered ${results.length} results for ${ops.length} operations`,
      );
    }
    return results.slice(0, ops.length);
  }

  /** Registers the notification handler of a monitor id (update, update2 and update3). */
  onMonitor(monitorId: unknown, handler: Handler): void {
    this.monitors.set(JSON.stringify(monitorId), handler);
  }

  offMonitor(monitorId: unknown): void {
    this.monitors.delete(JSON.stringify(monitorId));
  }

  /** Closes the connection; pending requests reject with ConnectionClosedError. */
  close(reason = "closed by client"): void {
    this.shutdown(new ConnectionClosedError(`${this.remote}: ${reason}`));
  }

  private shutdown(err: Error): void {
    if (this.closeError) return;
    this.closeError = err;
    clearInterval(this.probeTimer);
    try {
      this.conn.close();
    } catch { /* already closed */ }
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.closedResolve(err);
  }

  private probe(interval: number): void {
    const idle = Date.now() - this.lastHeard;
    if (idle >= 2 * interval) {
      this.shutdown(
        new ConnectionClosedError(`${this.remote}: no answer for ${idle}ms (echo probe)`),
      );
    } else if (idle >= interval) {
      this.request("echo", ["k8shost-probe"]).catch(() => {});
    }
  }

  private send(msg: unknown): Promise<void> {
    const bytes = enc.encode(JSON.stringify(msg));
    const next = this.writing.then(async () => {
      if (this.closeError) throw this.closeError;
      let off = 0;
      while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
      this.stats.sent++;
    });
    this.writing = next.catch(() => {});
    return next.catch((e) => {
      const err = e instanceof ConnectionClosedError ? e : new ConnectionClosedError(
        `${this.remote}: write failed: ${e instanceof Error ? e.message : e}`,
      );
      this.shutdown(err);
      throw err;
    });
  }

  private async readLoop(): Promise<void> {
    const splitter = new JsonStreamSplitter();
    const dec = new TextDecoder();
    const buf = new Uint8Array(256 * 1024);
    let reason = "connection closed by peer";
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        this.lastHeard = Date.now();
        for (const text of splitter.push(dec.decode(buf.subarray(0, n), { stream: true }))) {
          this.dispatch(JSON.parse(text));
        }
      }
    } catch (e) {
      if (!this.closeError) reason = `read failed: ${e instanceof Error ? e.message : e}`;
    }
    this.shutdown(new ConnectionClosedError(`${this.remote}: ${reason}`));
  }

  private dispatch(
    msg: { id?: unknown; method?: string; params?: unknown[]; result?: unknown; error?: unknown },
  ) {
    this.stats.received++;
    if (typeof msg.method === "string") {
      if (msg.method === "echo" && msg.id !== null && msg.id !== undefined) {
        this.stats.echoesAnswered++;
        this.send({ result: msg.params ?? [], error: null, id: msg.id }).catch(() => {});
        return;
      }
      const params = Array.isArray(msg.params) ? msg.params : [];
      if (msg.method === "update" || msg.method === "update2" || msg.method === "update3") {
        this.monitors.get(JSON.stringify(params[0]))?.(params);
      }
      return; // "locked", "stolen" and unknown notifications need no answer
    }
    if (typeof msg.id !== "number") return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error !== null && msg.error !== undefined) {
      const e = msg.error as { error?: string; details?: string } | string;
      const error = typeof e === "string" ? e : e.error ?? JSON.stringify(e);
      const details = typeof e === "string" ? undefined : e.details;
      p.reject(
        new OvsdbError(
          `${this.remote}: ${p.method} failed: ${error}${details ? `: ${details}` : ""}`,
          error,
          details,
        ),
      );
    } else p.resolve(msg.result);
  }
}
