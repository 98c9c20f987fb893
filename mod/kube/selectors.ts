/**
 * Label and field selectors with the grammar and matching rules of the Kubernetes API
 * (k8s.io/apimachinery labels.Parse and fields.ParseSelector), shared by the informer's
 * indexes and the test API server.
 */

export type LabelOp = "=" | "!=" | "in" | "notin" | "exists" | "!" | ">" | "<";
export interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

export class SelectorError extends Error {
  override name = "SelectorError";
}

const KEY_RE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (depth !== 0) throw new SelectorError(`unbalanced parentheses in selector "${s}"`);
  out.push(cur);
  return out;
}

function checkKey(key: string, sel: string) {
  if (!KEY_RE.test(key) || key.length > 316) {
    throw new SelectorError(`invalid label key "${key}" in selector "${sel}"`);
  }
}
function checkValue(v: string, sel: string) {
  if (!VALUE_RE.test(v) || v.length > 63) {
    throw new SelectorError(`invalid label value "${v}" in selector "${sel}"`);
  }
}

/** Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`; an empty selector matches everything. */
export function parseLabelSelector(selector: string | undefined): LabelRequirement[] {
  const sel = (selector ?? "").trim();
  if (!sel) return [];
  const reqs: LabelRequirement[] = [];
  for (const raw of splitTop(sel)) {
    const part = raw.trim();
    if (!part) throw new SelectorError(`empty requirement in selector "${sel}"`);
    let m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
    if (m) {
      checkKey(m[1], sel);
      const values = m[3].split(",").map((v) => v.trim());
      if (values.length === 1 && values[0] === "") {
        throw new SelectorError(`"${m[2]}" needs at least one value in selector "${sel}"`);
      }
      values.forEach((v) => checkValue(v, sel));
      reqs.push({ key: m[1], op: m[2] as LabelOp, values });
      continue;
    }
    m = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(\S*)$/.exec(part);
    if (m) {
      checkKey(m[1], sel);
      const op = m[2] === "==" ? "=" : m[2] as LabelOp;
      if (op === ">" || op === "<") {
        if (!/^-?\d+$/.test(m[3])) throw new SelectorError(`"${m[3]}" is not an integer`);
      } else checkValue(m[3], sel);
      reqs.push({ key: m[1], op, values: [m[3]] });
      continue;
    }
    m = /^(!?)\s*([^=!<>\s()]+)$/.exec(part);
    if (m) {
      checkKey(m[2], sel);
      reqs.push({ key: m[2], op: m[1] ? "!" : "exists", values: [] });
      continue;
    }
    throw new SelectorError(`unable to parse requirement "${part}" in selector "${sel}"`);
  }
  return reqs;
}

export function matchLabelRequirements(
  reqs: LabelRequirement[],
  labels: Record<string, string> | undefined,
): boolean {
  const l = labels ?? {};
  for (const r of reqs) {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case "=":
        if (!has || v !== r.values[0]) return false;
        break;
      case "!=":
        if (has && v === r.values[0]) return false;
        break;
      case "in":
        if (!has || !r.values.includes(v)) return false;
        break;
      case "notin":
        if (has && r.values.includes(v)) return false;
        break;
      case "exists":
        if (!has) return false;
        break;
      case "!":
        if (has) return false;
        break;
      case ">":
      case "<": {
        if (!has || !/^-?\d+$/.test(v)) return false;
        const n = Number(v), want = Number(r.values[0]);
        if (r.op === ">" ? !(n > want) : !(n < want)) return false;
      }
    }
  }
  return true;
}

/** Convenience: parse and match in one go (throws SelectorError on a bad selector). */
export function matchLabels(selector: string, labels: Record<string, string> | undefined) {
  return matchLabelRequirements(parseLabelSelector(selector), labels);
}

/** `{matchLabels, matchExpressions}` of a metav1.LabelSelector, as a selector string. */
export function labelSelectorToString(sel: {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}): string {
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const vals = `(${(e.values ?? []).join(",")})`;
    if (e.operator === "In") parts.push(`${e.key} in ${vals}`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin ${vals}`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
    else throw new SelectorError(`unknown label selector operator "${e.operator}"`);
  }
  return parts.join(",");
}

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

/** Parses `metadata.name=x,spec.nodeName!=y` (values may escape `\,` `\=` `\\`). */
export function parseFieldSelector(selector: string | undefined): FieldRequirement[] {
  const sel = (selector ?? "").trim();
  if (!sel) return [];
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < sel.length; i++) {
    const ch = sel[i];
    if (ch === "\\" && i + 1 < sel.length) {
      cur += ch + sel[++i];
    } else if (ch === ",") {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => {
    const m = /^\s*([A-Za-z0-9_.\-/]+)\s*(==|=|!=)(.*)$/.exec(p);
    if (!m) throw new SelectorError(`invalid field selector requirement "${p}"`);
    const value = m[3].replace(/\\(.)/g, "$1");
    return { field: m[1], op: m[2] === "!=" ? "!=" : "=", value };
  });
}

/** The string value at a dotted path (`spec.nodeName`), "" when absent (as the server does). */
export function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const p of path.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null) return "";
  return typeof cur === "object" ? JSON.stringify(cur) : String(cur);
}

export function matchFieldRequirements(reqs: FieldRequirement[], obj: unknown): boolean {
  for (const r of reqs) {
    const v = fieldValue(obj, r.field);
    if (r.op === "=" ? v !== r.value : v === r.value) return false;
  }
  return true;
}
