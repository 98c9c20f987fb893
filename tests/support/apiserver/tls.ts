/**
 * A throwaway CA and a server certificate for 127.0.0.1/::1/localhost, built in-process (DER by
 * hand, ECDSA P-256 via node:crypto) so that tests need no openssl binary.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";

function len(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  while (n > 0) {
    out.unshift(n & 0xff);
    n >>= 8;
  }
  return [0x80 | out.length, ...out];
}
function tlv(tag: number, body: Uint8Array | number[]): Uint8Array {
  const b = body instanceof Uint8Array ? body : Uint8Array.from(body);
  return Uint8Array.from([tag, ...len(b.length), ...b]);
}
function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const seq = (...p: Uint8Array[]) => tlv(0x30, cat(...p));
const set = (...p: Uint8Array[]) => tlv(0x31, cat(...p));
const explicit = (n: number, ...p: Uint8Array[]) => tlv(0xa0 + n, cat(...p));
const bool = (v: boolean) => tlv(0x01, [v ? 0xff : 0]);
const octets = (b: Uint8Array) => tlv(0x04, b);
const bits = (b: Uint8Array, unused = 0) => tlv(0x03, [unused, ...b]);
const utf8 = (s: string) => tlv(0x0c, new TextEncoder().encode(s));
function integer(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.slice(i);
  return tlv(0x02, v[0] & 0x80 ? [0, ...v] : v);
}
function oid(s: string): Uint8Array {
  const p = s.split(".").map(Number);
  const out = [p[0] * 40 + p[1]];
  for (const n of p.slice(2)) {
    const enc = [n & 0x7f];
    let v = n >> 7;
    while (v > 0) {
      enc.unshift(0x80 | (v & 0x7f));
      v >>= 7;
    }
    out.push(...enc);
  }
  return tlv(0x06, out);
}
function utcTime(d: Date): Uint8Array {
  const s = d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  return tlv(0x17, new TextEncoder().encode(s));
}
function ipBytes(ip: string): number[] {
  if (ip.includes(":")) {
    // only "::1" is needed here
    return [...new Array(15).fill(0), 1];
  }
  return ip.split(".").map(Number);
}

const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));
const name = (cn: string) => seq(set(seq(oid("2.5.4.3"), utf8(cn))));
const ext = (id: string, critical: boolean, value: Uint8Array) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

function toPem(label: string, der: Uint8Array): string {
  let b64 = btoa(String.fromCharCode(...der));
  const lines: string[] = [];
  while (b64.length) {
    lines.push(b64.slice(0, 64));
    b64 = b64.slice(64);
  }
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function certificate(opts: {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signer: KeyObject;
  ca: boolean;
  days: number;
  hosts?: string[];
  ips?: string[];
}): Uint8Array {
  const spki = new Uint8Array(opts.publicKey.export({ type: "spki", format: "der" }));
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + opts.days * 86_400_000);
  const serial = new Uint8Array(randomBytes(16));
  serial[0] &= 0x7f;
  serial[0] |= 0x01;
  const skid = new Uint8Array(createHash("sha1").update(spki).digest());
  const exts = [
    ext("2.5.29.19", true, opts.ca ? seq(bool(true)) : seq()),
    ext(
      "2.5.29.15",
      true,
      opts.ca ? bits(Uint8Array.from([0x86]), 1) : bits(Uint8Array.from([0xa0]), 5),
    ),
    ext("2.5.29.14", false, octets(skid)),
  ];
  if (!opts.ca) {
    exts.push(ext("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1"))));
    const names = [
      ...(opts.hosts ?? []).map((h) => tlv(0x82, new TextEncoder().encode(h))),
      ...(opts.ips ?? []).map((ip) => tlv(0x87, ipBytes(ip))),
    ];
    exts.push(ext("2.5.29.17", false, seq(...names)));
  }
  const tbs = seq(
    explicit(0, integer(Uint8Array.from([2]))),
    integer(serial),
    ECDSA_SHA256,
    name(opts.issuer),
    seq(utcTime(notBefore), utcTime(notAfter)),
    name(opts.subject),
    spki,
    explicit(3, seq(...exts)),
  );
  const sig = new Uint8Array(sign("sha256", tbs, { key: opts.signer, dsaEncoding: "der" }));
  return seq(tbs, ECDSA_SHA256, bits(sig));
}

export interface ServerTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A fresh CA and a server certificate it signed, valid for localhost, 127.0.0.1 and ::1. */
export function generateServerTls(days = 30): ServerTls {
  const ca = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const srv = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const caDer = certificate({
    subject: "k8shost-test-ca",
    issuer: "k8shost-test-ca",
    publicKey: ca.publicKey,
    signer: ca.privateKey,
    ca: true,
    days,
  });
  const srvDer = certificate({
    subject: "k8shost-test-apiserver",
    issuer: "k8shost-test-ca",
    publicKey: srv.publicKey,
    signer: ca.privateKey,
    ca: false,
    days,
    hosts: ["localhost", "kubernetes", "kubernetes.default"],
    ips: ["127.0.0.1", "::1"],
  });
  return {
    caPem: toPem("CERTIFICATE", caDer),
    certPem: toPem("CERTIFICATE", srvDer),
    keyPem: srv.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  };
}
