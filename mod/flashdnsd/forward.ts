/**
 * Forwarding of names outside the cluster zones to upstream resolvers: UDP first, TCP when the
 * upstream truncates, next upstream on timeout or SERVFAIL-free failure.
 */
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";

export interface Upstream {
  host: string;
  port: number;
}

/** `1.2.3.4`, `1.2.3.4:5353`, `fd00::1`, `[fd00::1]:5353`. */
export function parseUpstream(s: string): Upstream {
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(s);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : 53 };
  if (s.includes(":") && s.split(":").length > 2) return { host: s, port: 53 };
  const [host, port] = s.split(":");
  const p = port === undefined ? 53 : Number(port);
  if (!host || !Number.isInteger(p) || p < 1 || p > 65535) {
    throw new Error(`upstream ${JSON.stringify(s)} must be "ip" or "ip:port"`);
  }
  return { host, port: p };
}

function udpExchange(up: Upstream, msg: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(up.host.includes(":") ? "udp6" : "udp4");
    const id = new DataView(msg.buffer, msg.byteOffset).getUint16(0);
    const timer = setTimeout(
      () => done(new Error(`upstream ${up.host}:${up.port} timed out`)),
      timeoutMs,
    );
    const done = (err?: Error, res?: Uint8Array) => {
      clearTimeout(timer);
      sock.close();
      err ? reject(err) : resolve(res!);
    };
    sock.on("error", (e) => done(e));
    sock.on("message", (buf: Buffer) => {
      if (buf.length >= 2 && buf.readUInt16BE(0) === id) done(undefined, new Uint8Array(buf));
    });
    sock.send(Buffer.from(msg), up.port, up.host, (e) => e && done(e));
  });
}

/** One query over TCP with 2-byte length framing (RFC 1035 4.2.2). */
export async function tcpExchange(
  up: Upstream,
  msg: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: up.host, port: up.port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    const framed = new Uint8Array(msg.length + 2);
    new DataView(framed.buffer).setUint16(0, msg.length);
    framed.set(msg, 2);
    await conn.write(framed);
    const head = await readExactly(conn, 2);
    return await readExactly(conn, new DataView(head.buffer).getUint16(0));
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Already closed by the timeout.
    }
  }
}

export async function readExactly(
  r: { read(p: Uint8Array): Promise<number | null> },
  n: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const m = await r.read(out.subarray(got));
    if (m === null) throw new Error("connection closed");
    got += m;
  }
  return out;
}

/** Sends a query to the upstreams in order; the first answer wins. */
export async function forward(
  upstreams: Upstream[],
  msg: Uint8Array,
  timeoutMs = 2000,
): Promise<Uint8Array> {
  let last: unknown = new Error("no upstreams");
  for (const up of upstreams) {
    try {
      const res = await udpExchange(up, msg, timeoutMs);
      if (res.length > 2 && (res[2] & 0x02) !== 0) return await tcpExchange(up, msg, timeoutMs);
      return res;
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

/** A decoded resource record (dns-packet ships no types). */
// deno-lint-ignore no-explicit-any
export type WireRecord = any;

/** Resolves `name`/`type` upstream (for ExternalName CNAME targets); returns the answers. */
export async function resolveUpstream(
  upstreams: Upstream[],
  name: string,
  type: string,
): Promise<WireRecord[]> {
  const q = dnsPacket.encode({
    type: "query",
    id: Math.floor(Math.random() * 65536),
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: "IN" }],
  });
  const res = dnsPacket.decode(Buffer.from(await forward(upstreams, q)));
  return res.answers ?? [];
}
