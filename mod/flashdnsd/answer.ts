/**
 * Authoritative answers from the record store, as dns-packet objects: AA for names in our
 * zones, NXDOMAIN versus NODATA (SOA in the authority section either way, RFC 2308), CNAME
 * chasing inside our zones, A/AAAA for SRV targets in the additional section, and truncation to
 * the client's UDP size. Names outside our zones are handed back to the caller to forward.
 */
import dnsPacket from "dns-packet";
import type { RecordStore, StoredSet } from "./store.ts";

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

// deno-lint-ignore no-explicit-any
export type Packet = any;
// deno-lint-ignore no-explicit-any
export type Answer = any;

export interface ZoneView {
  store: RecordStore;
  /** Zones we are authoritative for, lower case, no trailing dot (longest match wins). */
  zones: string[];
  /** Negative-caching TTL and SOA TTL (RFC 2308): the record TTL. */
  soaTtl: number;
}

/**
 * `answer` is final unless `chase` names a CNAME target outside our zones, whose records the
 * caller may append from upstream; `forward` means the name is not ours.
 */
export type Outcome = { kind: "answer"; response: Packet; chase?: string } | { kind: "forward" };

/** The zone a name falls in, or undefined. */
export function zoneOf(name: string, zones: string[]): string | undefined {
  let best: string | undefined;
  for (const z of zones) {
    if ((name === z || name.endsWith(`.${z}`)) && (!best || z.length > best.length)) best = z;
  }
  return best;
}

function soa(zone: string, ttl: number, serial: number): Answer {
  return {
    name: zone,
    type: "SOA",
    ttl,
    class: "IN",
    data: {
      mname: `ns.dns.${zone}`,
      rname: `hostmaster.${zone}`,
      serial,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ttl,
    },
  };
}

/** A stored set as wire records named `owner`. */
export function toAnswers(owner: string, s: StoredSet): Answer[] {
  return s.values.map((v) => {
    const base = { name: owner, type: s.type, ttl: s.ttl, class: "IN" };
    switch (s.type) {
      case "A":
      case "AAAA":
        return { ...base, data: v };
      case "CNAME":
      case "PTR":
      case "NS":
        return { ...base, data: v.replace(/\.$/, "") };
      case "SRV": {
        const [priority, weight, port, target] = v.split(" ");
        return {
          ...base,
          data: {
            priority: +priority,
            weight: +weight,
            port: +port,
            target: target.replace(/\.$/, ""),
          },
        };
      }
      case "MX": {
        const [preference, exchange] = v.split(" ");
        return {
          ...base,
          data: { preference: +preference, exchange: exchange.replace(/\.$/, "") },
        };
      }
      case "TXT":
        return { ...base, data: [v] };
    }
    throw new Error(`unsupported type ${s.type}`);
  });
}

function respond(query: Packet, rcode: number, aa: boolean, ra: boolean): Packet {
  const rd = query.flags & dnsPacket.RECURSION_DESIRED;
  return {
    type: "response",
    id: query.id,
    flags: (aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | rd |
      (ra ? dnsPacket.RECURSION_AVAILABLE : 0) | rcode,
    questions: query.questions ?? [],
    answers: [],
    authorities: [],
    additionals: [],
  };
}

/** A minimal error response (FORMERR, NOTIMP, REFUSED, SERVFAIL) echoing the question. */
export function errorResponse(query: Packet, rcode: number, ra = false): Packet {
  return respond(query, rcode, false, ra);
}

/**
 * Answers one query. `ra` says whether forwarding exists (sets RA). Names outside every zone
 * come back as `forward`; the caller forwards or refuses.
 */
export function answer(query: Packet, view: ZoneView, ra: boolean): Outcome {
  if (query.opcode && query.opcode !== "QUERY") {
    return { kind: "answer", response: errorResponse(query, RCODE.NOTIMP, ra) };
  }
  if (query.questions?.length !== 1) {
    return { kind: "answer", response: errorResponse(query, RCODE.FORMERR, ra) };
  }
  const q = query.questions[0];
  const qname = String(q.name).toLowerCase().replace(/\.$/, "");
  const zone = zoneOf(qname, view.zones);
  if (!zone) return { kind: "forward" };
  if (q.class !== "IN" && q.class !== "ANY") {
    return { kind: "answer", response: errorResponse(query, RCODE.REFUSED, ra) };
  }

  const res = respond(query, RCODE.NOERROR, true, ra);
  const serial = 1; // The zone has no transfers; a constant serial keeps answers cacheable.
  const qtype = String(q.type);

  if (qname === zone && (qtype === "SOA" || qtype === "NS")) {
    res.answers.push(
      qtype === "SOA"
        ? soa(zone, view.soaTtl, serial)
        : { name: zone, type: "NS", ttl: view.soaTtl, class: "IN", data: `ns.dns.${zone}` },
    );
    return { kind: "answer", response: res };
  }

  // Follow CNAMEs inside our zones (at most 8 hops, so a loop cannot spin).
  let name = qname;
  for (let hop = 0; hop < 8; hop++) {
    const sets = view.store.lookup(name);
    const hit = qtype === "ANY"
      ? [...(sets?.values() ?? [])]
      : sets?.get(qtype)
      ? [sets.get(qtype)!]
      : [];
    if (hit.length > 0) {
      for (const s of hit) res.answers.push(...toAnswers(name, s));
      addTargets(res, view);
      return { kind: "answer", response: res };
    }
    const cname = sets?.get("CNAME");
    if (cname && qtype !== "CNAME") {
      res.answers.push(...toAnswers(name, cname));
      const target = cname.values[0].replace(/\.$/, "");
      if (!zoneOf(target, view.zones)) return { kind: "answer", response: res, chase: target };
      name = target;
      continue;
    }
    const exists = view.store.exists(name) || name === zoneOf(name, view.zones);
    // After a CNAME the rcode is that of the last name in the chain (RFC 6604).
    if (!exists) res.flags |= RCODE.NXDOMAIN;
    res.authorities.push(soa(zoneOf(name, view.zones) ?? zone, view.soaTtl, serial));
    return { kind: "answer", response: res };
  }
  return { kind: "answer", response: errorResponse(query, RCODE.SERVFAIL, ra) };
}

/** Adds A/AAAA of in-zone SRV, MX and NS targets to the additional section. */
function addTargets(res: Packet, view: ZoneView) {
  const seen = new Set<string>();
  for (const a of res.answers) {
    const target = a.type === "SRV"
      ? a.data.target
      : a.type === "MX"
      ? a.data.exchange
      : a.type === "NS"
      ? a.data
      : undefined;
    if (!target || seen.has(target)) continue;
    seen.add(target);
    const sets = view.store.lookup(String(target).toLowerCase());
    for (const t of ["A", "AAAA"]) {
      const s = sets?.get(t);
      if (s) res.additionals.push(...toAnswers(target, s));
    }
  }
}

/** The largest UDP answer the client accepts: 512, or its EDNS size (capped at 4096). */
export function udpLimit(query: Packet): number {
  const opt = (query.additionals ?? []).find((a: Answer) => a.type === "OPT");
  if (!opt) return 512;
  return Math.min(4096, Math.max(512, opt.udpPayloadSize ?? 512));
}

/** Echoes EDNS when the client used it (RFC 6891: the answer carries our own OPT). */
export function withEdns(query: Packet, res: Packet): Packet {
  const opt = (query.additionals ?? []).find((a: Answer) => a.type === "OPT");
  if (opt) res.additionals.push({ name: ".", type: "OPT", udpPayloadSize: 1232, flags: 0 });
  return res;
}

/**
 * Encodes for UDP: if the answer is larger than the client's limit, sends the header and the
 * question with TC set, so the client retries over TCP (RFC 1035 4.2.1, RFC 7766).
 */
export function encodeUdp(query: Packet, res: Packet): Uint8Array {
  const full = dnsPacket.encode(res);
  if (full.length <= udpLimit(query)) return full;
  const opt = res.additionals.filter((a: Answer) => a.type === "OPT");
  return dnsPacket.encode({
    ...res,
    flags: res.flags | dnsPacket.TRUNCATED_RESPONSE,
    answers: [],
    authorities: [],
    additionals: opt,
  });
}
