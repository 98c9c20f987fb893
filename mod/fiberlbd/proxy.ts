/**
 * The L4 data plane: a TCP proxy (Deno sockets, one upstream connection per client connection,
 * half-close preserved) and a UDP proxy (per-client sessions with an idle timeout) bound on an
 * external IP:port, forwarding to members chosen by the pool's balancer.
 */
import dgram from "node:dgram";
import type { Logger } from "../log/mod.ts";
import { connectWithin } from "./health.ts";
import type { MemberState, PoolRuntime } from "./pool_runtime.ts";

const BUFFER = 64 * 1024;
const CONNECT_TIMEOUT_MS = 3_000;
const MAX_ATTEMPTS = 3;
export const UDP_IDLE_MS = 30_000;

export interface ProxyStats {
  accepted: number;
  rejected: number;
}

export interface Proxy {
  readonly stats: ProxyStats;
  stop(): Promise<void>;
}

async function copy(from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(BUFFER);
  while (true) {
    const n = await from.read(buf);
    if (n === null) break;
    let off = 0;
    while (off < n) off += await to.write(buf.subarray(off, n));
  }
  await to.closeWrite(); // pass the FIN on; the other direction may still flow
}

function closeQuietly(c: { close(): void } | undefined) {
  try {
    c?.close();
  } catch { /* already closed */ }
}

export class TcpProxy implements Proxy {
  readonly stats: ProxyStats = { accepted: 0, rejected: 0 };
  #listener?: Deno.TcpListener;
  #conns = new Set<Deno.TcpConn>();
  #tasks = new Set<Promise<void>>();
  #loop?: Promise<void>;

  constructor(
    readonly ip: string,
    readonly port: number,
    private readonly pool: () => PoolRuntime | undefined,
    private readonly log: Logger,
  ) {}

  /** Binds; throws (e.g. AddrInUse, AddrNotAvailable) when the address cannot be served. */
  start(): void {
    this.#listener = Deno.listen({ hostname: this.ip, port: this.port, transport: "tcp" });
    this.#loop = this.#accept(this.#listener);
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    try {
      for await (const conn of listener) {
        const task = this.#serve(conn).catch(() => {}).finally(() => this.#tasks.delete(task));
        this.#tasks.add(task);
      }
    } catch { /* listener closed */ }
  }

  async #serve(client: Deno.TcpConn): Promise<void> {
    this.#conns.add(client);
    const clientIp = (client.remoteAddr as Deno.NetAddr).hostname;
    let upstream: Deno.TcpConn | undefined;
    let member: MemberState | undefined;
    try {
      const pool = this.pool();
      const tried = new Set<string>();
      for (let i = 0; pool && i < MAX_ATTEMPTS; i++) {
        const m = pool.choose(clientIp, tried);
        if (!m) break;
        try {
          upstream = await connectWithin(m.address, m.port, CONNECT_TIMEOUT_MS);
          member = m;
          break;
        } catch (err) {
          tried.add(m.key);
          pool.markFailed(m);
          pool.affinity?.forget(clientIp);
          this.log.debug("member refused a connection", { member: m.key, error: err });
        }
      }
      if (!upstream || !member) {
        this.stats.rejected++;
        return;
      }
      this.stats.accepted++;
      this.#conns.add(upstream);
      member.active++;
      try {
        client.setNoDelay(true);
        upstream.setNoDelay(true);
      } catch { /* not fatal */ }
      const up = upstream;
      // A reset on either side ends both directions; a clean FIN only ends its own.
      const abort = () => {
        closeQuietly(client);
        closeQuietly(up);
      };
      await Promise.all([copy(client, up).catch(abort), copy(up, client).catch(abort)]);
      member.active--;
    } finally {
      this.#conns.delete(client);
      if (upstream) this.#conns.delete(upstream);
      closeQuietly(client);
      closeQuietly(upstream);
    }
  }

  async stop(): Promise<void> {
    closeQuietly(this.#listener);
    for (const c of this.#conns) closeQuietly(c);
    await this.#loop;
    await Promise.allSettled([...this.#tasks]);
  }
}

interface UdpSession {
  upstream: dgram.Socket;
  member: MemberState;
  lastSeen: number;
}

export class UdpProxy implements Proxy {
  readonly stats: ProxyStats = { accepted: 0, rejected: 0 };
  #socket?: dgram.Socket;
  #sessions = new Map<string, UdpSession>();
  #sweeper?: ReturnType<typeof setInterval>;

  constructor(
    readonly ip: string,
    readonly port: number,
    private readonly pool: () => PoolRuntime | undefined,
    private readonly log: Logger,
    private readonly idleMs = UDP_IDLE_MS,
  ) {}

  async start(): Promise<void> {
    const socket = dgram.createSocket({ type: this.ip.includes(":") ? "udp6" : "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(this.port, this.ip, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    socket.on("error", (err) => this.log.warn("udp listener error", { error: err }));
    socket.on("message", (msg, rinfo) => this.#onMessage(msg, rinfo));
    this.#socket = socket;
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(5_000, this.idleMs));
  }

  #onMessage(msg: Uint8Array, rinfo: dgram.RemoteInfo): void {
    const id = `${rinfo.address}|${rinfo.port}`;
    let s = this.#sessions.get(id);
    if (!s) {
      const m = this.pool()?.choose(rinfo.address, new Set());
      if (!m) {
        this.stats.rejected++;
        return;
      }
      const upstream = dgram.createSocket({ type: m.address.includes(":") ? "udp6" : "udp4" });
      upstream.on("message", (reply) => {
        const cur = this.#sessions.get(id);
        if (cur) cur.lastSeen = Date.now();
        this.#socket?.send(reply, rinfo.port, rinfo.address);
      });
      upstream.on("error", () => this.#end(id));
      s = { upstream, member: m, lastSeen: Date.now() };
      this.#sessions.set(id, s);
      m.active++;
      this.stats.accepted++;
    }
    s.lastSeen = Date.now();
    s.upstream.send(msg, s.member.port, s.member.address);
  }

  #end(id: string): void {
    const s = this.#sessions.get(id);
    if (!s) return;
    this.#sessions.delete(id);
    s.member.active--;
    try {
      s.upstream.close();
    } catch { /* closed */ }
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.#sessions) if (now - s.lastSeen >= this.idleMs) this.#end(id);
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  async stop(): Promise<void> {
    clearInterval(this.#sweeper);
    for (const id of [...this.#sessions.keys()]) this.#end(id);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
