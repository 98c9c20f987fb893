/**
 * Checks over the PlasmaCloud service sections, listen addresses, FiberLB pools and the files a
 * config names. Service client sections are found generically (every section with
 * `endpoint` + `tokenFile` + `insecure`), so a new integration is covered without edits here.
 */
import { type ConfigIssue, leaves, type Spec } from "./schema.ts";
import { type Config, configSpec } from "./spec.ts";
import type { Check } from "./checks.ts";
import {
  isLoopbackHost,
  overlaps,
  parseCidr,
  parseHostPort,
  parseIp,
  parseRange,
  type Range,
} from "./net.ts";

interface ServiceClient {
  endpoint: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  tokenFile: string;
  insecure: boolean;
}

const serviceSections = Object.entries(configSpec.fields)
  .filter(([, s]) =>
    s.kind === "object" && ["endpoint", "tokenFile", "insecure"].every((k) => k in s.fields)
  )
  .map(([name]) => name);

function sectionOf(c: Config, name: string): ServiceClient {
  return (c as unknown as Record<string, ServiceClient>)[name];
}

/** `host:port`, `dns:///host:port`, or `unix:` + absolute path; undefined host for unix. */
function parseEndpoint(v: string): { host?: string } | string {
  if (/^unix:(\/\/)?\/[^\s]*$/.test(v)) return {};
  const hp = parseHostPort(v.replace(/^dns:\/\/\//, ""));
  return typeof hp === "string" ? "host:port, dns:///host:port or unix:///path" : { host: hp.host };
}

function serviceClientIssues(name: string, s: ServiceClient): ConfigIssue[] {
  if (s.endpoint === "") return [];
  const ep = parseEndpoint(s.endpoint);
  if (typeof ep === "string") {
    return [{ path: `${name}.endpoint`, value: s.endpoint, expected: ep }];
  }
  const out: ConfigIssue[] = [];
  if ((s.certFile === "") !== (s.keyFile === "")) {
    const missing = s.certFile === "" ? "certFile" : "keyFile";
    out.push({
      path: `${name}.${missing}`,
      value: "",
      expected: `a file set together with ${name}.${
        missing === "certFile" ? "keyFile" : "certFile"
      } (mTLS needs both)`,
    });
  }
  const remote = ep.host !== undefined && !isLoopbackHost(ep.host);
  if (remote && s.caFile === "") {
    if (s.insecure && s.tokenFile !== "") {
      out.push({
        path: `${name}.insecure`,
        value: true,
        expected:
          `false while ${name}.tokenFile is set (a bearer token is never sent in plaintext)`,
      });
    } else if (!s.insecure) {
      out.push({
        path: `${name}.caFile`,
        value: "",
        expected: `a CA file for TLS to ${s.endpoint} (or ${name}.insecure: true for plaintext)`,
      });
    }
  }
  return out;
}

/** The TCP listeners a config opens, by key path (disabled ones left out). */
function listeners(c: Config): [string, string][] {
  const out: [string, string][] = [];
  if (c.health.listen !== "") out.push(["health.listen", c.health.listen]);
  if (c.iam.enable) out.push(["iam.webhook.listen", c.iam.webhook.listen]);
  if (c.flashdns.enable) out.push(["flashdns.listen", c.flashdns.listen]);
  return out;
}

const WILDCARD = new Set(["0.0.0.0", "::", ""]);

const POOL_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function poolIssues(c: Config): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const reserved: [string, Range][] = (["serviceCIDR", "clusterCIDR"] as const)
    .map((k) => [`networking.${k}`, parseCidr(c.networking[k])!]);
  const checkRanges = (at: string, value: string, text: string) => {
    for (const part of text.split(",")) {
      const r = parseRange(part);
      if (typeof r === "string") {
        out.push({ path: at, value, expected: `${r} (in "${part.trim()}")` });
        continue;
      }
      const hit = reserved.find(([, n]) => overlaps(n, r));
      if (hit) {
        out.push({
          path: at,
          value,
          expected: `addresses outside ${hit[0]} (${part.trim()} overlaps it)`,
        });
      }
    }
  };
  if (c.fiberlb.externalIpPool !== "") {
    checkRanges("fiberlb.externalIpPool", c.fiberlb.externalIpPool, c.fiberlb.externalIpPool);
  }
  const seen = new Set<string>();
  c.fiberlb.pools.forEach((pool, i) => {
    const at = `fiberlb.pools[${i}]`;
    const eq = pool.indexOf("=");
    const name = pool.slice(0, Math.max(eq, 0));
    if (eq < 0 || !POOL_NAME.test(name)) {
      out.push({
        path: at,
        value: pool,
        expected:
          "name=cidr-or-range[,cidr-or-range...] with a DNS-label name, e.g. public=192.0.2.0/24",
      });
      return;
    }
    if (seen.has(name)) {
      out.push({ path: at, value: pool, expected: `a pool name not used before ("${name}")` });
    }
    seen.add(name);
    checkRanges(at, pool, pool.slice(eq + 1));
  });
  return out;
}

export const SERVICE_CHECKS: Check[] = [
  ...serviceSections.map((name): Check => ({
    name: `${name}-client`,
    reads: [name],
    run: (c) => serviceClientIssues(name, sectionOf(c, name)),
  })),
  {
    name: "iam-webhook-keypair",
    reads: ["iam.webhook"],
    run: ({ iam: { webhook: w } }) =>
      (w.certFile === "") === (w.keyFile === "") ? [] : [{
        path: w.certFile === "" ? "iam.webhook.certFile" : "iam.webhook.keyFile",
        value: "",
        expected: "a file set together with the other of iam.webhook.certFile/keyFile",
      }],
  },
  {
    name: "listen-addresses",
    reads: [
      "health.listen",
      "iam.webhook.listen",
      "flashdns.listen",
      "iam.enable",
      "flashdns.enable",
    ],
    run: (c) => {
      const out: ConfigIssue[] = [];
      const parsed: [string, string, { host: string; port: number }][] = [];
      for (const [at, v] of listeners(c)) {
        const hp = parseHostPort(v);
        if (typeof hp === "string") out.push({ path: at, value: v, expected: hp });
        else parsed.push([at, v, hp]);
      }
      parsed.forEach(([at, v, hp], i) => {
        const clash = parsed.slice(0, i).find(([, , o]) =>
          o.port === hp.port && hp.port !== 0 &&
          (o.host === hp.host || WILDCARD.has(o.host) || WILDCARD.has(hp.host))
        );
        if (clash) {
          out.push({
            path: at,
            value: v,
            expected: `a port not already used by ${clash[0]} (${clash[1]})`,
          });
        }
      });
      return out;
    },
  },
  {
    name: "fiberlb-pools",
    reads: ["fiberlb", "networking.serviceCIDR", "networking.clusterCIDR"],
    run: poolIssues,
  },
  {
    name: "flashdns-upstreams",
    reads: ["flashdns.upstreams"],
    run: (c) =>
      c.flashdns.upstreams.flatMap((u, i) => {
        const hp = parseIp(u) ? undefined : parseHostPort(u);
        if (
          hp === undefined || (typeof hp !== "string" && parseIp(hp.host) && hp.port > 0)
        ) return [];
        return [{
          path: `flashdns.upstreams[${i}]`,
          value: u,
          expected: "a resolver IP or ip:port such as 192.0.2.53 or [2001:db8::53]:53",
        }];
      }),
  },
];

/**
 * Keys ending in `File`/`Files` name files k8shost reads (unless marked `written`): each must be
 * a readable file.
 */
const fileLeaves = [...leaves(configSpec)].filter(([at, s]) => {
  const p = s.kind === "list" ? s.of : s;
  return /Files?$/.test(at) && p.kind === "path" && !p.written;
});

function valueAt(c: Config, at: string): unknown {
  return at.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], c);
}

export function unreadable(file: string): string | undefined {
  try {
    if (!Deno.statSync(file).isFile) return "not a regular file";
    Deno.openSync(file, { read: true }).close();
    return undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "no such file";
    if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
    return (err as Error).message;
  }
}

export const FILE_CHECKS: Check[] = fileLeaves.map(([at, spec]: [string, Spec]): Check => ({
  name: `readable:${at}`,
  reads: [at],
  run: (c) => {
    const v = valueAt(c, at);
    const files = spec.kind === "list" ? (v as string[]) : [v as string];
    return files.flatMap((f, i) => {
      if (f === "") return [];
      const why = unreadable(f);
      const path = spec.kind === "list" ? `${at}[${i}]` : at;
      return why ? [{ path, value: f, expected: `a readable file (${why})` }] : [];
    });
  },
}));
