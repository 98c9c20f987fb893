/**
 * The CNI protocol as both sides of the prismnet socket see it: supported versions, the spec's
 * error codes, environment validation, and the wire format between the plugin and the node
 * daemon. Imported by the plugin process, so it must import nothing.
 */

/** Oldest first; VERSION reports them in this order. */
export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export const LATEST_VERSION = "1.1.0";
export const DEFAULT_SOCKET = "/run/k8shost/prismnet.sock";
/** How long the plugin waits for the daemon's answer unless the config says otherwise. */
export const DEFAULT_TIMEOUT_MS = 60_000;
export const CONNECT_TIMEOUT_MS = 2_000;

/** Well-known codes from the CNI spec, then prismnet's own (100+). */
export const ERR = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  pluginNotAvailable: 50,
  limitedConnectivity: 51,
  /** The namespace's subnet has no free address. */
  addressesExhausted: 100,
  /** PrismNET refused the request (not transient). */
  ipamFailed: 101,
  /** Creating or configuring links failed (rolled back). */
  dataplaneFailed: 102,
  /** CHECK found the attachment not as ADD left it. */
  checkFailed: 103,
  /** runtimeConfig asked for an address or MAC that cannot be used. */
  requestedUnavailable: 104,
  /** An unexpected failure inside the daemon. */
  internal: 999,
} as const;

export interface CniError {
  code: number;
  msg: string;
  details?: string;
}

export function cniError(code: number, msg: string, details?: string): CniError {
  return details ? { code, msg, details } : { code, msg };
}

export function isCniError(v: unknown): v is CniError {
  return typeof v === "object" && v !== null && typeof (v as CniError).code === "number" &&
    typeof (v as CniError).msg === "string";
}

export type Command = "ADD" | "DEL" | "CHECK" | "STATUS" | "GC" | "VERSION";
export const COMMANDS: readonly Command[] = ["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"];

/** The CNI_* environment of one invocation. */
export interface CniEnv {
  command: Command;
  containerId: string;
  netns: string;
  ifname: string;
  args: string;
  path: string;
}

/** Which variables each command cannot do without (CNI_PATH is unused by prismnet). */
const REQUIRED: Record<Command, Array<keyof CniEnv>> = {
  ADD: ["containerId", "netns", "ifname"],
  CHECK: ["containerId", "netns", "ifname"],
  DEL: ["containerId", "ifname"],
  STATUS: [],
  GC: [],
  VERSION: [],
};
const ENV_NAMES: Record<keyof CniEnv, string> = {
  command: "CNI_COMMAND",
  containerId: "CNI_CONTAINERID",
  netns: "CNI_NETNS",
  ifname: "CNI_IFNAME",
  args: "CNI_ARGS",
  path: "CNI_PATH",
};

/** Reads and validates the CNI_* variables; the error names every bad variable. */
export function readEnv(get: (name: string) => string | undefined): CniEnv | CniError {
  const raw = get("CNI_COMMAND") ?? "";
  if (raw === "") return cniError(ERR.invalidEnv, "required env variables [CNI_COMMAND] missing");
  if (!(COMMANDS as readonly string[]).includes(raw)) {
    return cniError(
      ERR.invalidEnv,
      `unknown CNI_COMMAND: ${raw}`,
      `expected one of ${COMMANDS.join(", ")}`,
    );
  }
  const command = raw as Command;
  const env: CniEnv = {
    command,
    containerId: get("CNI_CONTAINERID") ?? "",
    netns: get("CNI_NETNS") ?? "",
    ifname: get("CNI_IFNAME") ?? "",
    args: get("CNI_ARGS") ?? "",
    path: get("CNI_PATH") ?? "",
  };
  const missing = REQUIRED[command].filter((k) => env[k] === "").map((k) => ENV_NAMES[k]);
  if (missing.length > 0) {
    return cniError(ERR.invalidEnv, `required env variables [${missing.join(",")}] missing`);
  }
  // Commands without a container ignore the rest: libcni's config validation runs VERSION
  // with CNI_NETNS=dummy and the like.
  if (REQUIRED[command].length === 0) return env;
  return validateEnvValues(env);
}

/** Checks the shape of the values that are set (also used by the daemon on every request). */
export function validateEnvValues(env: CniEnv): CniEnv | CniError {
  if (env.containerId !== "" && !CONTAINER_ID.test(env.containerId)) {
    return cniError(
      ERR.invalidEnv,
      "invalid characters in CNI_CONTAINERID",
      `${
        JSON.stringify(env.containerId)
      }: must start with an alphanumeric character followed by alphanumerics, _, . or -`,
    );
  }
  if (env.ifname !== "") {
    const why = ifnameProblem(env.ifname);
    if (why) {
      return cniError(ERR.invalidEnv, `invalid CNI_IFNAME: ${why}`, JSON.stringify(env.ifname));
    }
  }
  if (env.netns !== "" && !env.netns.startsWith("/")) {
    return cniError(ERR.invalidEnv, "CNI_NETNS must be an absolute path", env.netns);
  }
  if (env.args !== "") {
    const parsed = parseCniArgs(env.args);
    if (isCniError(parsed)) return parsed;
  }
  return env;
}

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Why a Linux interface name is unusable, or undefined when it is fine. */
export function ifnameProblem(name: string): string | undefined {
  if (name.length === 0) return "interface name is empty";
  if (new TextEncoder().encode(name).length > 15) return "interface name is longer than 15 bytes";
  if (name === "." || name === "..") return "interface name is . or ..";
  if (/[/:\s]/.test(name)) return "interface name contains / or : or whitespace";
  return undefined;
}

/** `K=V;K2=V2` into a map; values may contain `=`. */
export function parseCniArgs(args: string): Record<string, string> | CniError {
  const out: Record<string, string> = {};
  for (const pair of args.split(";")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      return cniError(
        ERR.invalidEnv,
        "invalid CNI_ARGS pair",
        `${JSON.stringify(pair)}: expected KEY=VALUE`,
      );
    }
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** -1, 0 or 1; unparseable versions sort lowest. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a) ?? [-1, -1, -1];
  const pb = parseVersion(b) ?? [-1, -1, -1];
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
  return 0;
}

function parseVersion(v: string): number[] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function isSupportedVersion(v: unknown): v is string {
  return typeof v === "string" && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** The oldest config version each command exists in. */
const MIN_VERSION: Partial<Record<Command, string>> = {
  CHECK: "0.4.0",
  STATUS: "1.1.0",
  GC: "1.1.0",
};

/**
 * Decodes stdin into the network configuration object and checks what every command needs:
 * a supported cniVersion that knows the command, and a valid network name.
 */
export function decodeConfig(stdin: string, command: Command): Record<string, unknown> | CniError {
  let conf: unknown;
  try {
    conf = JSON.parse(stdin);
  } catch (e) {
    return cniError(
      ERR.decodingFailure,
      "failed to decode network configuration",
      String((e as Error).message),
    );
  }
  if (typeof conf !== "object" || conf === null || Array.isArray(conf)) {
    return cniError(ERR.decodingFailure, "network configuration must be a JSON object");
  }
  const c = conf as Record<string, unknown>;
  const v = c.cniVersion ?? "0.1.0";
  if (!isSupportedVersion(v)) {
    return cniError(
      ERR.incompatibleVersion,
      "incompatible CNI versions",
      `config is ${JSON.stringify(v)}, plugin supports ${SUPPORTED_VERSIONS.join(", ")}`,
    );
  }
  const min = MIN_VERSION[command];
  if (min && compareVersions(v, min) < 0) {
    return cniError(
      ERR.incompatibleVersion,
      `config version ${v} does not allow ${command}`,
      `${command} needs ${min} or later`,
    );
  }
  if (typeof c.name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(c.name)) {
    return cniError(
      ERR.invalidConfig,
      "invalid or missing network name",
      JSON.stringify(c.name ?? null),
    );
  }
  return c;
}

/** The version an error or VERSION answer should carry: the caller's, when it is one we know. */
export function replyVersion(conf: unknown): string {
  const v = typeof conf === "object" && conf !== null
    ? (conf as Record<string, unknown>).cniVersion
    : undefined;
  return isSupportedVersion(v) ? v : LATEST_VERSION;
}

export function errorOutput(cniVersion: string, e: CniError): string {
  return JSON.stringify({
    cniVersion,
    code: e.code,
    msg: e.msg,
    ...(e.details ? { details: e.details } : {}),
  });
}

export function versionOutput(cniVersion: string): string {
  return JSON.stringify({ cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] });
}

/** One line from the plugin to the daemon. */
export interface WireRequest {
  env: CniEnv;
  /** The network configuration exactly as the runtime sent it. */
  stdin: string;
}

/** One line back: what the plugin prints and its exit status. */
export interface WireResponse {
  exit: number;
  output: string;
}

/** The plugin's knobs inside the network configuration: `"prismnet": {"socket": ...}`. */
export function pluginSettings(
  conf: Record<string, unknown>,
): { socket: string; timeoutMs: number } {
  const p = typeof conf.prismnet === "object" && conf.prismnet !== null
    ? conf.prismnet as Record<string, unknown>
    : {};
  const socket = typeof p.socket === "string" && p.socket.startsWith("/")
    ? p.socket
    : DEFAULT_SOCKET;
  const t = p.timeoutSeconds;
  const timeoutMs = typeof t === "number" && t > 0 && t <= 3600 ? t * 1000 : DEFAULT_TIMEOUT_MS;
  return { socket, timeoutMs };
}
