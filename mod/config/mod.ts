/**
 * Loading the configuration: file (YAML or JSON) < `K8SHOST_*` environment < `--set` flags <
 * the subcommand's mode. The result is validated against `configSpec`, then the cross-field
 * checks run; every problem found is collected into one ConfigError.
 */
import { parse as parseYaml } from "yaml";
import { type ConfigIssue, envName, leaves, levenshtein, type Spec, validate } from "./schema.ts";
import { type Config, configSpec } from "./spec.ts";
import { ConfigError } from "./errors.ts";
import { runChecks } from "./checks.ts";
import { lookupLeaf, setAt } from "./paths.ts";

export { ConfigError, FlagError } from "./errors.ts";
export { type Config, configSpec } from "./spec.ts";
export type { ConfigIssue } from "./schema.ts";
export { redactedConfig } from "./render.ts";

export const DEFAULT_CONFIG_FILE = "/etc/k8shost/config.yaml";

export interface LoadOptions {
  /** Config file; when given it must exist. Default /etc/k8shost/config.yaml (may be absent). */
  file?: string;
  /** Environment to read `K8SHOST_*` from; default the process environment. */
  env?: Record<string, string | undefined>;
  /** `key.path=value` overrides from `--set`. */
  set?: string[];
  /** The subcommand's mode; overrides `mode` from every other source. */
  mode?: "server" | "agent";
  /** Fail when the (default) file is missing too. */
  requireFile?: boolean;
  /** The file read when `file` is not given (tests point it elsewhere). */
  defaultFile?: string;
}

export async function loadConfig(opts: LoadOptions = {}): Promise<Config> {
  const { config, issues } = await inspectConfig(opts);
  if (issues.length) throw new ConfigError(issues);
  return config;
}

/**
 * Like loadConfig but never throws: every issue, and a config in which each bad or missing
 * value is its default (for `doctor`, which reports the issues and checks the host anyway).
 */
export async function inspectConfig(
  opts: LoadOptions = {},
): Promise<{ config: Config; issues: ConfigIssue[] }> {
  const issues: ConfigIssue[] = [];
  const file = opts.file ?? opts.defaultFile ?? DEFAULT_CONFIG_FILE;
  const raw = await readConfigFile(file, opts.file !== undefined || !!opts.requireFile, issues);

  // Where each overridden leaf came from, so an issue names the env var or flag to fix.
  const sources = new Map<string, string>();
  const env = opts.env ?? Deno.env.toObject();
  for (const [at, spec] of leaves(configSpec)) {
    const v = env[envName(at)];
    if (v === undefined) continue;
    setAt(raw, at, scalarOverride(spec, v, at, issues));
    sources.set(at, envName(at));
  }
  issues.push(...envTypos(env));
  for (const item of opts.set ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) {
      issues.push({ path: "--set", value: item, expected: "key.path=value, e.g. log.level=debug" });
      continue;
    }
    const at = item.slice(0, eq).trim();
    const found = lookupLeaf(at);
    if (!("spec" in found)) {
      issues.push({
        path: `--set ${at}`,
        value: item.slice(eq + 1),
        expected: `a known key path${found.guess ? ` — did you mean "${found.guess}"?` : ""}`,
      });
      continue;
    }
    setAt(raw, at, scalarOverride(found.spec, item.slice(eq + 1), at, issues));
    sources.set(at, "--set");
  }
  if (opts.mode) setAt(raw, "mode", opts.mode);

  const found: ConfigIssue[] = [];
  const config = validate(configSpec, raw, "", found) as Config;
  found.push(...runChecks(config, new Set(found.map((i) => i.path))));
  for (const i of found) {
    const from = sources.get(i.path.replace(/\[\d+\].*$/, ""));
    issues.push(from ? { ...i, path: `${i.path} (from ${from})` } : i);
  }
  return { config, issues };
}

async function readConfigFile(
  file: string,
  mustExist: boolean,
  issues: ConfigIssue[],
): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && !mustExist) return {};
    const why = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof Deno.errors.IsADirectory
      ? "is a directory"
      : (err as Error).message;
    issues.push({ path: "--config", value: file, expected: `a readable config file (${why})` });
    return {};
  }
  let doc: unknown;
  try {
    doc = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const first = (err as Error).message.split("\n")[0].replace(/:$/, "");
    const kind = file.endsWith(".json") ? "JSON" : "YAML";
    issues.push({
      path: file,
      value: text,
      shown: "(unparseable)",
      expected: `valid ${kind} (${first})`,
    });
    return {};
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    issues.push({
      path: file,
      value: doc,
      expected: "a mapping of keys to values at the top level",
    });
    return {};
  }
  return doc as Record<string, unknown>;
}

/**
 * Env and `--set` values are strings. Lists take `a,b,c`, or a YAML/JSON flow sequence
 * (`[a, "b,c"]`) when an item itself holds a comma (FiberLB pools); the schema converts the rest.
 */
function scalarOverride(spec: Spec, v: string, at: string, issues: ConfigIssue[]): unknown {
  if (spec.kind !== "list" || !v.trim().startsWith("[")) return v;
  try {
    const parsed = parseYaml(v);
    if (Array.isArray(parsed)) return parsed;
  } catch { /* reported below */ }
  issues.push({ path: at, value: v, expected: "a flow sequence such as [a, b] or a,b" });
  return undefined;
}

/** K8SHOST_* variables that are not config keys (the launcher's). */
const NON_CONFIG_ENV = new Set(["K8SHOST_DENO_PREFIX"]);

/**
 * An unknown K8SHOST_* variable one or two edits away from a real one is a typo that would
 * otherwise be silently ignored; anything further off may be some other tool's and is left be.
 */
function envTypos(env: Record<string, string | undefined>): ConfigIssue[] {
  const known = [...leaves(configSpec)].map(([at]) => envName(at));
  const knownSet = new Set(known);
  return Object.keys(env).sort().flatMap((name) => {
    if (!name.startsWith("K8SHOST_") || knownSet.has(name) || NON_CONFIG_ENV.has(name)) return [];
    const guess = known.find((k) => levenshtein(k, name) <= 2);
    return guess
      ? [{ path: name, value: env[name], expected: `a known variable — did you mean ${guess}?` }]
      : [];
  });
}
