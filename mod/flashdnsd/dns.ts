/**
 * The embedded authoritative DNS server: one UDP socket and one TCP listener on the same port,
 * answering from the record store for the cluster zones and forwarding (or refusing) the rest.
 */
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import {
  answer,
  encodeUdp,
  errorResponse,
  type Packet,
  RCODE,
  withEdns,
  type ZoneView,
} from "./answer.ts";
import { forward, readExactly, resolveUpstream, type Upstream } from "./forward.ts";

export interface DnsServerOptions {
  /** `host:port`; port 0 picks one free for both UDP and TCP. */
  listen: string;
  view: ZoneView;
  upstreams: Upstream[];
  log: Logger;
  metrics?: Registry;
  /** TCP connections idle longer than this are closed (RFC 7766 suggests seconds). */
  tcpIdleMs?: number;
}

export interface DnsServer {
  /** The bound address and port (same for UDP and TCP). */
  host: string;
  port: number;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  if (!m) throw new Error(`listen address ${JSON.stringify(listen)} must be host:port`);
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  const { host, port: wanted } = parseListen(opts.listen);
  const queries = opts.metrics?.counter(
    "flashdns_dns_queries_total",
    "DNS queries answered, by transport and rcode.",
  );
  const handle = async (
    msg: Uint8Array,
    transport: "udp" | "tcp",
  ): Promise<Uint8Array | undefined> => {
    const { bytes, rcode } = await respond(msg, transport, opts);
    if (bytes) queries?.inc({ transport, rcode });
    return bytes;
  };

  // Binding UDP on port 0 then TCP on the same port can race another process; retry a few times.
  for (let attempt = 0;; attempt++) {
    const udp = dgram.createSocket({
      type: host.includes(":") ? "udp6" : "udp4",
      reuseAddr: false,
    });
    const udpPort = await new Promise<number>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(wanted, host, () => resolve(udp.address().port));
    });
    let tcp: Deno.TcpListener;
    try {
      tcp = Deno.listen({ hostname: host, port: udpPort, transport: "tcp" });
    } catch (e) {
      udp.close();
      if (wanted === 0 && attempt < 5 && e instanceof Deno.errors.AddrInUse) continue;
      throw e;
    }
    udp.on("message", (buf: Buffer, rinfo: dgram.RemoteInfo) => {
      handle(new Uint8Array(buf), "udp").then((out) => {
        if (out) udp.send(out, rinfo.port, rinfo.address);
      }).catch((e) => opts.log.warn("udp answer failed", { error: e }));
    });
    udp.on("error", (e) => opts.log.warn("udp socket error", { error: e }));
    const conns = new Set<Deno.TcpConn>();
    const accepting = acceptLoop(tcp, conns, handle, opts);
    opts.log.info("dns server listening", { host, port: udpPort, zones: opts.view.zones });
    return {
      host,
      port: udpPort,
      close: async () => {
        await new Promise<void>((r) => udp.close(() => r()));
        try {
          tcp.close();
        } catch {
          // Already closed.
        }
        for (const c of conns) {
          try {
            c.close();
          } catch {
            // Already closed.
          }
        }
        await accepting;
      },
    };
  }
}

async function acceptLoop(
  tcp: Deno.TcpListener,
  conns: Set<Deno.TcpConn>,
  handle: (msg: Uint8Array, t: "udp" | "tcp") => Promise<Uint8Array | undefined>,
  opts: DnsServerOptions,
) {
  const served: Promise<void>[] = [];
  try {
    for await (const conn of tcp) {
      conns.add(conn);
      served.push(
        serveTcp(conn, handle, opts.tcpIdleMs ?? 10_000).finally(() => conns.delete(conn)),
      );
    }
  } catch {
    // The listener was closed.
  }
  await Promise.allSettled(served);
}

/** Reads length-framed queries until the peer closes or idles; answers in order. */
async function serveTcp(
  conn: Deno.TcpConn,
  handle: (msg: Uint8Array, t: "udp" | "tcp") => Promise<Uint8Array | undefined>,
  idleMs: number,
) {
  let timer = setTimeout(() => close(), idleMs);
  const close = () => {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  try {
    while (true) {
      const head = await readExactly(conn, 2);
      const msg = await readExactly(conn, (head[0] << 8) | head[1]);
      clearTimeout(timer);
      const out = await handle(msg, "tcp");
      if (out) {
        const framed = new Uint8Array(out.length + 2);
        framed[0] = out.length >> 8;
        framed[1] = out.length & 0xff;
        framed.set(out, 2);
        await conn.write(framed);
      }
      timer = setTimeout(() => close(), idleMs);
    }
  } catch {
    // Peer closed, idle timeout, or a broken frame: the connection ends.
  } finally {
    clearTimeout(timer);
    close();
  }
}

/** Decodes, answers (or forwards, or refuses) and encodes one message. */
async function respond(
  msg: Uint8Array,
  transport: "udp" | "tcp",
  opts: DnsServerOptions,
): Promise<{ bytes?: Uint8Array; rcode: string }> {
  let query: Packet;
  try {
    query = dnsPacket.decode(Buffer.from(msg));
  } catch {
    // Undecodable: answer FORMERR when at least the header is there, else drop.
    if (msg.length < 12) return { rcode: "dropped" };
    const id = (msg[0] << 8) | msg[1];
    return {
      bytes: dnsPacket.encode(errorResponse({ id, flags: 0, questions: [] }, RCODE.FORMERR)),
      rcode: "FORMERR",
    };
  }
  if (query.type === "response") return { rcode: "dropped" };
  const ra = opts.upstreams.length > 0;
  const encode = (res: Packet) => {
    withEdns(query, res);
    return transport === "udp" ? encodeUdp(query, res) : dnsPacket.encode(res);
  };
  const outcome = answer(query, opts.view, ra);
  if (outcome.kind === "forward") {
    if (!ra) return { bytes: encode(errorResponse(query, RCODE.REFUSED)), rcode: "REFUSED" };
    try {
      return { bytes: await forward(opts.upstreams, msg), rcode: "FORWARDED" };
    } catch (e) {
      opts.log.debug("forwarding failed", { error: e });
      return { bytes: encode(errorResponse(query, RCODE.SERVFAIL, ra)), rcode: "SERVFAIL" };
    }
  }
  const res = outcome.response;
  if (outcome.chase && ra) {
    try {
      res.answers.push(
        ...await resolveUpstream(opts.upstreams, outcome.chase, query.questions[0].type),
      );
    } catch (e) {
      opts.log.debug("resolving CNAME target upstream failed", { target: outcome.chase, error: e });
    }
  }
  const rcode = Object.entries(RCODE).find(([, v]) => v === (res.flags & 0xf))?.[0] ?? "NOERROR";
  return { bytes: encode(res), rcode };
}
