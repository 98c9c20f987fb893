/**
 * The record-set model shared by the controller, the client and the embedded FlashDNS: keys,
 * value validation per type, and the name arithmetic (FQDNs, reverse names) both sides need.
 * Pure: no I/O.
 */
import { Address4, Address6 } from "ip-address";

export const RECORD_TYPES = ["A", "AAAA", "CNAME", "PTR", "SRV", "TXT", "MX", "NS"] as const;
export type RecordType = typeof RECORD_TYPES[number];

export interface RecordSet {
  zone: string;
  /** Relative to the zone; "@" is the apex. */
  name: string;
  type: RecordType;
  /** Presentation form, sorted and de-duplicated (see normalizeRecordSet). */
  values: string[];
  ttl: number;
  labels: Record<string, string>;
}

export interface RecordSetKey {
  zone: string;
  name: string;
  type: string;
}

/** `zone|name|type`: the identity of a set. Sorting keys sorts by zone, name, type. */
export function setKey(k: RecordSetKey): string {
  return `${k.zone}|${k.name}|${k.type}`;
}

export function parseSetKey(key: string): RecordSetKey {
  const [zone, name, type] = key.split("|");
  return { zone, name, type };
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** A DNS name in lower case without the trailing dot; "" is the root. Throws when malformed. */
export function normalizeName(name: string, what = "name"): string {
  const n = name.trim().toLowerCase().replace(/\.$/, "");
  if (n === "") return "";
  if (n.length > 253) {
    throw new Error(`${what} ${JSON.stringify(name)} is longer than 253 characters`);
  }
  for (const label of n.split(".")) {
    if (!LABEL.test(label)) {
      throw new Error(
        `${what} ${JSON.stringify(name)} has an invalid label ${JSON.stringify(label)}`,
      );
    }
  }
  return n;
}

/** The absolute name of `name` in `zone` (no trailing dot). */
export function fqdn(zone: string, name: string): string {
  return name === "@" || name === "" ? zone : `${name}.${zone}`;
}

export function isIPv4(s: string): boolean {
  return !s.includes("/") && Address4.isValid(s);
}

export function isIPv6(s: string): boolean {
  return !s.includes("/") && !s.includes("%") && Address6.isValid(s);
}

/** Canonical text of an IP: dotted quad, or the RFC 5952 compressed IPv6 form. */
export function canonicalIp(ip: string): string {
  if (isIPv4(ip)) return new Address4(ip).correctForm();
  if (isIPv6(ip)) return new Address6(ip).correctForm();
  throw new Error(`${JSON.stringify(ip)} is not an IP address`);
}

/** `10.244.1.5` → `10-244-1-5`; `fd00::1` → `fd00--1` (the form CoreDNS uses). */
export function dashedIp(ip: string): string {
  return canonicalIp(ip).replace(/[.:]/g, "-");
}

/** The reverse name of an IP: `5.1.244.10.in-addr.arpa`, or 32 nibbles under `ip6.arpa`. */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${canonicalIp(ip).split(".").reverse().join(".")}.in-addr.arpa`;
  if (isIPv6(ip)) {
    const hex = new Address6(ip).canonicalForm().replace(/:/g, "");
    return `${hex.split("").reverse().join(".")}.ip6.arpa`;
  }
  throw new Error(`${JSON.stringify(ip)} is not an IP address`);
}

/**
 * The reverse zone covering a CIDR on an octet (IPv4) or nibble (IPv6) boundary:
 * `10.96.0.0/12` → `10.in-addr.arpa`, `10.244.0.0/16` → `244.10.in-addr.arpa`.
 */
export function reverseZone(cidr: string): string {
  const [addr, bits] = cidr.split("/");
  const prefix = Number(bits);
  if (isIPv4(addr) && prefix >= 0 && prefix <= 32) {
    const octets = canonicalIp(addr).split(".").slice(0, Math.floor(prefix / 8));
    return [...octets.reverse(), "in-addr", "arpa"].join(".");
  }
  if (isIPv6(addr) && prefix >= 0 && prefix <= 128) {
    const nibbles = new Address6(addr).canonicalForm().replace(/:/g, "").slice(
      0,
      Math.floor(prefix / 4),
    );
    return [...nibbles.split("").reverse(), "ip6", "arpa"].join(".");
  }
  throw new Error(`${JSON.stringify(cidr)} is not a CIDR`);
}

function target(value: string, what: string): string {
  const n = normalizeName(value, what);
  if (n === "") throw new Error(`${what} must not be the root`);
  return `${n}.`;
}

function u16(s: string | undefined, what: string): number {
  const n = Number(s);
  if (s === undefined || !/^\d+$/.test(s) || n > 65535) throw new Error(`${what} must be 0..65535`);
  return n;
}

/** Validates one value of a type and returns its canonical presentation form. */
export function normalizeValue(type: string, value: string): string {
  const v = value.trim();
  switch (type) {
    case "A":
      if (!isIPv4(v)) throw new Error(`A value ${JSON.stringify(value)} is not an IPv4 address`);
      return canonicalIp(v);
    case "AAAA":
      if (!isIPv6(v)) throw new Error(`AAAA value ${JSON.stringify(value)} is not an IPv6 address`);
      return canonicalIp(v);
    case "CNAME":
    case "PTR":
    case "NS":
      return target(v, `${type} target`);
    case "SRV": {
      const parts = v.split(/\s+/);
      if (parts.length !== 4) {
        throw new Error(
          `SRV value ${JSON.stringify(value)} must be "<priority> <weight> <port> <target>"`,
        );
      }
      const [p, w, port] = parts.slice(0, 3).map((x, i) =>
        u16(x, ["priority", "weight", "port"][i])
      );
      return `${p} ${w} ${port} ${target(parts[3], "SRV target")}`;
    }
    case "MX": {
      const parts = v.split(/\s+/);
      if (parts.length !== 2) {
        throw new Error(`MX value ${JSON.stringify(value)} must be "<preference> <exchange>"`);
      }
      return `${u16(parts[0], "preference")} ${target(parts[1], "MX exchange")}`;
    }
    case "TXT":
      if (new TextEncoder().encode(value).length > 255) {
        throw new Error("TXT value longer than 255 bytes");
      }
      return value;
    default:
      throw new Error(`type ${JSON.stringify(type)} is not one of ${RECORD_TYPES.join(", ")}`);
  }
}

export function isRecordType(t: string): t is RecordType {
  return (RECORD_TYPES as readonly string[]).includes(t);
}

/**
 * Validates a whole set at a boundary: zone and name syntax, type, TTL, values (canonical,
 * sorted, de-duplicated) and CNAME exclusivity of a single value.
 */
export function normalizeRecordSet(s: {
  zone: string;
  name: string;
  type: string;
  values: string[];
  ttl: number;
  labels?: Record<string, string>;
}): RecordSet {
  const zone = normalizeName(s.zone, "zone");
  if (zone === "") throw new Error("zone must not be empty");
  const name = s.name === "@" || s.name === "" ? "@" : normalizeName(s.name, "name");
  const type = s.type.toUpperCase();
  if (!isRecordType(type)) {
    throw new Error(`type ${JSON.stringify(s.type)} is not one of ${RECORD_TYPES.join(", ")}`);
  }
  if (!Number.isInteger(s.ttl) || s.ttl < 0 || s.ttl > 2147483647) {
    throw new Error(`ttl ${s.ttl} must be an integer 0..2147483647`);
  }
  if (s.values.length === 0) {
    throw new Error(`record set ${fqdn(zone, name)} ${type} has no values`);
  }
  const values = [...new Set(s.values.map((v) => normalizeValue(type, v)))].sort();
  if (type === "CNAME" && values.length > 1) {
    throw new Error(`CNAME ${fqdn(zone, name)} has several values`);
  }
  return { zone, name, type, values, ttl: s.ttl, labels: { ...(s.labels ?? {}) } };
}

/** True when the two sets would answer identically and carry the same labels. */
export function sameRecordSet(a: RecordSet, b: RecordSet): boolean {
  if (a.ttl !== b.ttl || a.values.length !== b.values.length) return false;
  if (a.values.some((v, i) => v !== b.values[i])) return false;
  const ka = Object.keys(a.labels);
  if (ka.length !== Object.keys(b.labels).length) return false;
  return ka.every((k) => a.labels[k] === b.labels[k]);
}

/** Every label in `selector` is present in `labels` with the same value. */
export function labelsMatch(
  labels: Record<string, string>,
  selector: Record<string, string>,
): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}
