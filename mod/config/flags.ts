/**
 * The command-line parser every face shares: `--config FILE`, repeatable `--set key.path=value`,
 * `--help`/`-h`, plus the flags a face declares. Unknown flags fail with a did-you-mean, and
 * `runFace` turns FlagError/ConfigError into a message on stderr and exit code 2.
 */
import { ConfigError, FlagError } from "./errors.ts";
import { didYouMean } from "./schema.ts";

export { ConfigError, FlagError };

export interface FlagSpec {
  /** Long name without dashes, e.g. `no-k3s`. */
  name: string;
  /** `bool` takes no value; `string` takes one (last wins); `list` is repeatable. */
  kind: "bool" | "string" | "list";
  doc: string;
  /** Placeholder shown in help, e.g. `FILE`. */
  metavar?: string;
}

export interface FaceSpec {
  /** How the command is invoked, e.g. `k8shost server`. */
  command: string;
  summary: string;
  flags?: FlagSpec[];
  /** Names of positional arguments for the help text; extra positionals are an error. */
  positionals?: string[];
  /** Accept any number of positionals (e.g. a sub-subcommand's own args). */
  restPositionals?: boolean;
  /** Leave out --config/--set (faces that do not read the config). */
  noConfig?: boolean;
}

export interface ParsedFlags {
  config?: string;
  set: string[];
  help: boolean;
  /** Face flags by name: boolean for bool, string for string, string[] for list. */
  values: Record<string, boolean | string | string[] | undefined>;
  positionals: string[];
}

const CONFIG_FLAGS: FlagSpec[] = [
  {
    name: "config",
    kind: "string",
    metavar: "FILE",
    doc: "config file (default /etc/k8shost/config.yaml)",
  },
  {
    name: "set",
    kind: "list",
    metavar: "KEY=VALUE",
    doc: "override one config key, e.g. --set log.level=debug (repeatable)",
  },
];
const HELP_FLAG: FlagSpec = { name: "help", kind: "bool", doc: "show this help" };

function allFlags(face: FaceSpec): FlagSpec[] {
  return [...(face.noConfig ? [] : CONFIG_FLAGS), ...(face.flags ?? []), HELP_FLAG];
}

export function parseFlags(args: string[], face: FaceSpec): ParsedFlags {
  const flags = allFlags(face);
  const byName = new Map(flags.map((f) => [f.name, f]));
  const out: ParsedFlags = { set: [], help: false, values: {}, positionals: [] };
  const fail = (msg: string): never => {
    throw new FlagError(msg, face.command);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      out.positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg === "-h") {
      out.help = true;
      continue;
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg.startsWith("-") && arg !== "-") {
        fail(`unknown flag "${arg}" (flags are long: --name)`);
      }
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = byName.get(name);
    if (!spec) {
      const guess = didYouMean(name, [...byName.keys()]);
      fail(`unknown flag "--${name}"${guess ? ` — did you mean "--${guess}"?` : ""}`);
    }
    let value: string | undefined;
    if (spec!.kind === "bool") {
      if (eq >= 0) {
        const v = arg.slice(eq + 1);
        if (v !== "true" && v !== "false") fail(`flag --${name} takes true or false, not "${v}"`);
        setValue(out, spec!, v === "true");
      } else setValue(out, spec!, true);
      continue;
    }
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = args[++i];
      if (value === undefined) fail(`flag --${name} needs a value (${spec!.metavar ?? "VALUE"})`);
    }
    setValue(out, spec!, value!);
  }
  const max = face.restPositionals ? Infinity : (face.positionals ?? []).length;
  if (!out.help && out.positionals.length > max) {
    fail(`unexpected argument "${out.positionals[max]}"`);
  }
  return out;
}

function setValue(out: ParsedFlags, spec: FlagSpec, v: string | boolean) {
  if (spec.name === "help") out.help = v === true;
  else if (spec.name === "config") out.config = v as string;
  else if (spec.name === "set") out.set.push(v as string);
  else if (spec.kind === "list") {
    const prev = (out.values[spec.name] as string[] | undefined) ?? [];
    out.values[spec.name] = [...prev, v as string];
  } else out.values[spec.name] = v;
}

export function helpText(face: FaceSpec): string {
  const flags = allFlags(face);
  const left = (f: FlagSpec) =>
    `--${f.name}${f.kind === "bool" ? "" : ` ${f.metavar ?? "VALUE"}`}${
      f.name === "help" ? ", -h" : ""
    }`;
  const width = Math.max(...flags.map((f) => left(f).length));
  const pos = (face.positionals ?? []).map((p) => ` ${p}`).join("");
  return [
    `usage: ${face.command} [flags]${pos}`,
    "",
    face.summary,
    "",
    "flags:",
    ...flags.map((f) => `  ${left(f).padEnd(width)}  ${f.doc}`),
  ].join("\n");
}

/**
 * Runs a face body, mapping the errors every face shares to their exit code: a bad command line
 * or an invalid configuration print to stderr and exit 2.
 */
export async function runFace(command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof FlagError) {
      console.error(`${err.command}: ${err.message}\nRun \`${err.command} --help\` for usage.`);
      return 2;
    }
    if (err instanceof ConfigError) {
      console.error(`${command}: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
