/**
 * A small declarative schema: each option is described once (type, default, doc), and from that
 * one description come validation with exact key paths, the typed config, env-variable names,
 * the README reference and the NixOS module's options.
 */
import { Address4, Address6 } from "ip-address";

interface Base<T> {
  doc: string;
  default?: T;
  /** Never printed or logged; `config print` shows it redacted. */
  secret?: boolean;
}
export interface StringSpec extends Base<string> {
  kind: "string";
  oneOf?: readonly string[];
  pattern?: RegExp;
  /** What the pattern means, for the error message. */
  patternDoc?: string;
}
export interface IntSpec extends Base<number> {
  kind: "int";
  min?: number;
  max?: number;
}
export interface BoolSpec extends Base<boolean> {
  kind: "bool";
}
/** A duration written as "30s", "2m", "1h", "500ms" or a number of seconds; held in ms. */
export interface DurationSpec extends Base<number> {
  kind: "duration";
  min?: number;
}
/** An IPv4 or IPv6 CIDR, normalised as written. */
export interface CidrSpec extends Base<string> {
  kind: "cidr";
}
/** An IP address (v4 or v6). Empty string means unset when allowEmpty. */
export interface IpSpec extends Base<string> {
  kind: "ip";
  allowEmpty?: boolean;
}
/** An absolute path. Empty string means unset when allowEmpty. */
export interface PathSpec extends Base<string> {
  kind: "path";
  allowEmpty?: boolean;
  /**
   * k8shost creates this file itself. Keys ending in `File`/`Files` otherwise name inputs that
   * must be readable when set (checked by `config check`).
   */
  written?: boolean;
}
export interface ListSpec<E extends Spec = Spec> extends Base<unknown[]> {
  kind: "list";
  of: E;
}
export interface ObjectSpec<F extends Record<string, Spec> = Record<string, Spec>> {
  kind: "object";
  doc: string;
  fields: F;
}
export type Spec =
  | StringSpec
  | IntSpec
  | BoolSpec
  | DurationSpec
  | CidrSpec
  | IpSpec
  | PathSpec
  | ListSpec
  | ObjectSpec;

/** The typed value a spec validates into. */
export type Infer<S> = S extends ObjectSpec<infer F> ? { [K in keyof F]: Infer<F[K]> }
  : S extends ListSpec<infer E> ? Infer<E>[]
  : S extends IntSpec | DurationSpec ? number
  : S extends BoolSpec ? boolean
  : string;

export const obj = <F extends Record<string, Spec>>(doc: string, fields: F): ObjectSpec<F> => ({
  kind: "object",
  doc,
  fields,
});
export const str = (doc: string, o: Omit<StringSpec, "kind" | "doc"> = {}): StringSpec => ({
  kind: "string",
  doc,
  ...o,
});
export const int = (doc: string, o: Omit<IntSpec, "kind" | "doc"> = {}): IntSpec => ({
  kind: "int",
  doc,
  ...o,
});
export const bool = (doc: string, dflt = false): BoolSpec => ({ kind: "bool", doc, default: dflt });
export const duration = (doc: string, dflt: string, min = 0): DurationSpec => ({
  kind: "duration",
  doc,
  default: parseDuration(dflt)!,
  min,
});
export const cidr = (doc: string, dflt?: string): CidrSpec => ({
  kind: "cidr",
  doc,
  default: dflt,
});
export const ip = (doc: string, dflt = ""): IpSpec => ({
  kind: "ip",
  doc,
  default: dflt,
  allowEmpty: true,
});
export const path = (
  doc: string,
  dflt = "",
  o: { secret?: boolean; written?: boolean } = {},
): PathSpec => ({
  kind: "path",
  doc,
  default: dflt,
  allowEmpty: true,
  ...o,
});
export const list = <E extends Spec>(doc: string, of: E, dflt: unknown[] = []): ListSpec<E> => ({
  kind: "list",
  doc,
  of,
  default: dflt,
});

export interface ConfigIssue {
  /** Dotted key path, e.g. `networking.clusterCIDR` or `fiberlb.pools[1].cidrs[0]`. */
  path: string;
  value: unknown;
  expected: string;
  /** Replaces the JSON of `value` in the message (e.g. "(unparseable)"). */
  shown?: string;
}

export function formatIssue(i: ConfigIssue): string {
  const shown = i.shown ?? (i.value === undefined ? "(missing)" : JSON.stringify(i.value));
  return `${i.path}: ${shown} — expected ${i.expected}`;
}

export function parseDuration(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v * 1000;
  if (typeof v !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"]!;
  return Math.round(n * unit);
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function isCidr(v: string): boolean {
  if (!v.includes("/")) return false;
  return Address4.isValid(v) || Address6.isValid(v);
}

export function isIp(v: string): boolean {
  return !v.includes("/") && (Address4.isValid(v) || Address6.isValid(v));
}

/** Validates `raw` against `spec`, filling defaults; issues are appended, never thrown. */
export function validate(spec: Spec, raw: unknown, at: string, issues: ConfigIssue[]): unknown {
  if (spec.kind === "object") return validateObject(spec, raw, at, issues);
  if (raw === undefined || raw === null) {
    return "default" in spec && spec.default !== undefined ? structuredClone(spec.default) : raw;
  }
  const bad = (expected: string) => {
    issues.push({ path: at, value: raw, expected });
    return "default" in spec ? spec.default : undefined;
  };
  switch (spec.kind) {
    case "string": {
      if (typeof raw !== "string") {
        return bad(spec.oneOf ? `one of ${spec.oneOf.join(", ")}` : "a string");
      }
      if (spec.oneOf && !spec.oneOf.includes(raw)) return bad(`one of ${spec.oneOf.join(", ")}`);
      if (spec.pattern && !spec.pattern.test(raw)) {
        return bad(spec.patternDoc ?? `to match ${spec.pattern}`);
      }
      return raw;
    }
    case "int": {
      const n = typeof raw === "string" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
      const range = `an integer${spec.min !== undefined ? ` >= ${spec.min}` : ""}${
        spec.max !== undefined ? ` and <= ${spec.max}` : ""
      }`;
      if (typeof n !== "number" || !Number.isInteger(n)) return bad(range);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        return bad(range);
      }
      return n;
    }
    case "bool": {
      if (typeof raw === "boolean") return raw;
      if (raw === "true" || raw === "false") return raw === "true";
      return bad("true or false");
    }
    case "duration": {
      const ms = parseDuration(raw);
      if (ms === undefined) return bad('a duration such as "500ms", "30s", "2m" or "1h"');
      if (spec.min !== undefined && ms < spec.min) {
        return bad(`at least ${formatDuration(spec.min)}`);
      }
      return ms;
    }
    case "cidr":
      if (typeof raw !== "string" || !isCidr(raw)) {
        return bad('a CIDR such as "10.0.0.0/16" or "fd00::/64"');
      }
      return raw;
    case "ip":
      if (typeof raw !== "string") return bad("an IP address");
      if (raw === "" && spec.allowEmpty) return raw;
      if (!isIp(raw)) return bad("an IPv4 or IPv6 address");
      return raw;
    case "path":
      if (typeof raw !== "string") return bad("an absolute path");
      if (raw === "" && spec.allowEmpty) return raw;
      if (!raw.startsWith("/")) return bad("an absolute path");
      return raw;
    case "list": {
      const items = typeof raw === "string"
        ? raw.split(",").map((s) => s.trim()).filter(Boolean)
        : raw;
      if (!Array.isArray(items)) return bad("a list");
      return items.map((item, i) => validate(spec.of, item, `${at}[${i}]`, issues));
    }
  }
}

function validateObject(spec: ObjectSpec, raw: unknown, at: string, issues: ConfigIssue[]) {
  const out: Record<string, unknown> = {};
  let input: Record<string, unknown> = {};
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== "object" || Array.isArray(raw)) {
      issues.push({
        path: at || "(top level)",
        value: raw,
        expected: "a mapping of keys to values",
      });
    } else input = raw as Record<string, unknown>;
  }
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(spec.fields, key)) {
      const guess = didYouMean(key, Object.keys(spec.fields));
      issues.push({
        path: join(at, key),
        value: input[key],
        expected: `a known key${guess ? ` — did you mean "${guess}"?` : ""} (known: ${
          Object.keys(spec.fields).join(", ")
        })`,
      });
    }
  }
  for (const [key, field] of Object.entries(spec.fields)) {
    out[key] = validate(field, input[key], join(at, key), issues);
  }
  return out;
}

export function join(at: string, key: string): string {
  return at ? `${at}.${key}` : key;
}

export function didYouMean(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestScore) [best, bestScore] = [c, d];
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(word.length / 3))
    ? best
    : undefined;
}

export function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

/** Every leaf of a spec with its dotted path, for env names, docs and the Nix module. */
export function* leaves(spec: Spec, at = ""): Generator<[string, Exclude<Spec, ObjectSpec>]> {
  if (spec.kind === "object") {
    for (const [k, f] of Object.entries(spec.fields)) yield* leaves(f, join(at, k));
  } else yield [at, spec];
}

/** `networking.clusterCIDR` → `K8SHOST_NETWORKING_CLUSTER_CIDR`. */
export function envName(dotted: string): string {
  return "K8SHOST_" +
    dotted.split(".").map((p) =>
      p.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
        .toUpperCase()
    ).join("_");
}
