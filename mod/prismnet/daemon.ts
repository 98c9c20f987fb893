/**
 * The node daemon's socket: newline-delimited JSON, one WireRequest per line, one WireResponse
 * line back, in order, on a unix socket only root can reach. The plugin sends one request per
 * connection; tests and tools may send many.
 */
import type { WireRequest, WireResponse } from "../../cni/spec.ts";
import { cniError, ERR, errorOutput, LATEST_VERSION } from "../../cni/spec.ts";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import { dirname } from "node:path";

export interface RequestHandler {
  handle(req: WireRequest): Promise<WireResponse>;
}

const MAX_LINE = 4 * 1024 * 1024;

export class SocketServer {
  private listener?: Deno.UnixListener;
  private conns = new Set<Deno.UnixConn>();
  private loop?: Promise<void>;
  private inflight = new Set<Promise<unknown>>();
  private busy = new Set<Promise<unknown>>();

  constructor(
    readonly path: string,
    private readonly handler: RequestHandler,
    private readonly log: Logger,
    private readonly metrics?: Registry,
  ) {}

  async start(): Promise<void> {
    await Deno.mkdir(dirname(this.path), { recursive: true, mode: 0o755 });
    await this.removeStale();
    this.listener = Deno.listen({ transport: "unix", path: this.path });
    await Deno.chmod(this.path, 0o600);
    this.loop = this.acceptLoop(this.listener);
  }

  /** A socket file nobody answers on is left over from a crash. */
  private async removeStale() {
    try {
      const c = await Deno.connect({ transport: "unix", path: this.path });
      c.close();
      throw new Error(`another prismnet daemon is listening on ${this.path}`);
    } catch (e) {
      if (e instanceof Error && e.message.startsWith("another")) throw e;
      await Deno.remove(this.path).catch(() => {});
    }
  }

  private async acceptLoop(listener: Deno.UnixListener) {
    try {
      for await (const conn of listener) {
        this.conns.add(conn);
        const p = this.serve(conn).finally(() => {
          this.conns.delete(conn);
          this.inflight.delete(p);
        });
        this.inflight.add(p);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) {
        this.log.error("accept failed", { error: String(e) });
      }
    }
  }

  private async serve(conn: Deno.UnixConn) {
    const dec = new TextDecoder();
    const buf = new Uint8Array(64 * 1024);
    let pending = "";
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        pending += dec.decode(buf.subarray(0, n), { stream: true });
        if (pending.length > MAX_LINE) throw new Error("request line too long");
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (line.trim() === "") continue;
          const work = this.dispatch(line);
          this.busy.add(work);
          const res = await work.finally(() => this.busy.delete(work));
          await writeAll(conn, JSON.stringify(res) + "\n");
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.BrokenPipe)) {
        this.log.warn("connection failed", { error: String(e) });
      }
    } finally {
      try {
        conn.close();
      } catch { /* closed by stop() */ }
    }
  }

  private async dispatch(line: string): Promise<WireResponse> {
    const started = performance.now();
    let req: WireRequest;
    try {
      req = JSON.parse(line);
    } catch {
      return {
        exit: 1,
        output: errorOutput(
          LATEST_VERSION,
          cniError(ERR.decodingFailure, "malformed request line"),
        ),
      };
    }
    let res: WireResponse;
    try {
      res = await this.handler.handle(req);
    } catch (e) {
      res = {
        exit: 1,
        output: errorOutput(
          LATEST_VERSION,
          cniError(ERR.internal, "prismnet internal error", String(e)),
        ),
      };
    }
    const command = String(req?.env?.command ?? "unknown");
    const seconds = (performance.now() - started) / 1000;
    this.metrics?.histogram(
      "prismnet_cni_duration_seconds",
      "CNI command handling time in the daemon",
    )
      .observe({ command, result: res.exit === 0 ? "ok" : "error" }, seconds);
    this.metrics?.counter("prismnet_cni_requests_total", "CNI commands handled").inc({
      command,
      result: res.exit === 0 ? "ok" : "error",
    });
    return res;
  }

  /** Stops accepting, lets requests in flight finish (bounded), closes everything. */
  async stop(graceMs = 5000): Promise<void> {
    try {
      this.listener?.close();
    } catch { /* already closed */ }
    await this.loop;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.busy]),
      new Promise((r) => timer = setTimeout(r, graceMs)),
    ]);
    clearTimeout(timer);
    for (const c of this.conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await Promise.allSettled([...this.inflight]);
    await Deno.remove(this.path).catch(() => {});
  }
}

async function writeAll(conn: Deno.UnixConn, text: string) {
  const bytes = new TextEncoder().encode(text);
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}
