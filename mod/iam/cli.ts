/**
 * `k8shost token issue|inspect`: mint tokens with the embedded issuer, or explain what the
 * webhook would answer for a token (and why).
 */
import { Buffer } from "node:buffer";
import { type Config, loadConfig } from "../config/mod.ts";
import { type FaceSpec, FlagError, helpText, parseFlags, runFace } from "../config/flags.ts";
import { parseDuration } from "../config/schema.ts";
import { logger } from "../log/mod.ts";
import { Authenticator } from "./authenticator.ts";
import { type IamClient, iamClientFromConfig } from "./iam_client.ts";
import { checkIdentity, ClaimError, type Identity } from "./identity.ts";
import { loadIssuer, mintToken, userIdForEmail } from "./issuer.ts";
import { buildVerifier } from "./setup.ts";

const FACE: FaceSpec = {
  command: "k8shost token",
  summary: [
    "issue:   mint a token with the embedded issuer (<dataDir>/iam/issuer.jwk) and print it:",
    "         k8shost token issue --org ORG --project PROJ --user alice@example.com --role project_admin --ttl 8h",
    "         k8shost token issue --org ORG --project PROJ --sa deployer --role project_editor",
    "         --opaque asks the IAM service (iam.endpoint or the embedded one) for an opaque token.",
    "inspect: say whether the webhook would accept TOKEN (or the token on stdin with - or none),",
    "         and why not; exit 0 when accepted, 1 when rejected.",
  ].join("\n"),
  positionals: ["issue|inspect", "[TOKEN|-]"],
  flags: [
    { name: "org", kind: "string", metavar: "ORG_ID", doc: "org id (issue; required)" },
    { name: "project", kind: "string", metavar: "PROJECT_ID", doc: "project id (issue)" },
    {
      name: "user",
      kind: "string",
      metavar: "EMAIL|ID",
      doc: "the user: an email (username) or a principal id",
    },
    {
      name: "sa",
      kind: "string",
      metavar: "NAME",
      doc: "a service account of --project instead of a user",
    },
    {
      name: "role",
      kind: "list",
      metavar: "ROLE",
      doc: "role, e.g. project_viewer, org_admin (repeatable, or a,b)",
    },
    {
      name: "ttl",
      kind: "string",
      metavar: "DURATION",
      doc: "lifetime, e.g. 30m, 8h (default iam.issuer.defaultTTL)",
    },
    {
      name: "audience",
      kind: "list",
      metavar: "AUD",
      doc: "issue: token audience; inspect: spec.audiences",
    },
    { name: "opaque", kind: "bool", doc: "issue an opaque token through the IAM service" },
    { name: "offline", kind: "bool", doc: "inspect without fetching JWKS or asking IAM" },
    { name: "json", kind: "bool", doc: "inspect: print the result as JSON" },
  ],
};

export function main(args: string[]): Promise<number> {
  return runFace(FACE.command, async () => {
    const flags = parseFlags(args, FACE);
    if (flags.help) {
      console.log(helpText(FACE));
      return 0;
    }
    const [action, tokenArg] = flags.positionals;
    const config = await loadConfig({ file: flags.config, set: flags.set });
    if (action === "issue") return await issue(config, flags.values);
    if (action === "inspect") return await inspect(config, flags.values, tokenArg);
    throw new FlagError(
      action === undefined ? "missing action: issue or inspect" : `unknown action "${action}"`,
      FACE.command,
    );
  });
}

type Values = Record<string, string | boolean | string[] | undefined>;

function identityFrom(v: Values): Identity {
  const str = (k: string) => (typeof v[k] === "string" ? v[k] as string : "");
  if (!str("org")) throw new FlagError("--org is required", FACE.command);
  const roles = ((v.role as string[] | undefined) ?? []).flatMap((r) => r.split(",")).map((r) =>
    r.trim()
  ).filter(Boolean);
  const user = str("user");
  const sa = str("sa");
  if (user && sa) throw new FlagError("give --user or --sa, not both", FACE.command);
  if (!user && !sa) throw new FlagError("--user or --sa is required", FACE.command);
  const email = user.includes("@") && !sa ? user : "";
  const id: Identity = sa
    ? {
      kind: "service_account",
      principalId: `sa-${sa}@${str("project")}`,
      principalName: sa,
      email: "",
      orgId: str("org"),
      projectId: str("project"),
      roles,
    }
    : {
      kind: "user",
      principalId: email ? userIdForEmail(email) : user,
      principalName: "",
      email,
      orgId: str("org"),
      projectId: str("project"),
      roles,
    };
  try {
    return checkIdentity(id);
  } catch (err) {
    if (err instanceof ClaimError) {
      throw new FlagError(
        err.message.replace(/claim "(\w+)"/, (_m, c) => `value for ${flagOf(c)}`),
        FACE.command,
      );
    }
    throw err;
  }
}

function flagOf(claim: string): string {
  return ({
    org_id: "--org",
    project_id: "--project",
    sub: "--user",
    email: "--user",
    principal_name: "--sa",
    roles: "--role",
  } as Record<string, string>)[claim] ?? claim;
}

async function issue(config: Config, v: Values): Promise<number> {
  const identity = identityFrom(v);
  const ttlMs = typeof v.ttl === "string" ? parseDuration(v.ttl) : config.iam.issuer.defaultTTL;
  if (ttlMs === undefined || ttlMs < 1000) {
    throw new FlagError(`--ttl: "${v.ttl}" is not a duration such as 30m or 8h`, FACE.command);
  }
  if (ttlMs > config.iam.issuer.maxTTL) {
    throw new FlagError(
      `--ttl is longer than iam.issuer.maxTTL (${config.iam.issuer.maxTTL / 1000}s)`,
      FACE.command,
    );
  }
  const ttlSeconds = Math.round(ttlMs / 1000);
  const audiences = (v.audience as string[] | undefined) ?? [];
  if (v.opaque) {
    const client = await iamClientFromConfig(config);
    try {
      const t = await client.issueToken({ identity, ttlSeconds, format: "opaque", audiences });
      console.error(
        `opaque token ${t.tokenId}, expires ${new Date(t.expiresAt * 1000).toISOString()}`,
      );
      console.log(t.token);
    } finally {
      client.close();
    }
    return 0;
  }
  const issuer = await loadIssuer(config);
  const t = await mintToken(issuer, { identity, ttlSeconds, audiences });
  console.error(
    `token for ${
      identity.email || identity.principalId
    } (iss ${issuer.name}, jti ${t.jti}), expires ${new Date(t.exp * 1000).toISOString()}`,
  );
  console.log(t.token);
  return 0;
}

async function readToken(arg: string | undefined): Promise<string> {
  if (arg !== undefined && arg !== "-") return arg.trim();
  const text = await new Response(Deno.stdin.readable).text();
  return text.trim();
}

function decodeParts(token: string): { header?: unknown; claims?: unknown } {
  const parts = token.split(".");
  if (parts.length !== 3) return {};
  const dec = (s: string) => {
    try {
      return JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
    } catch {
      return undefined;
    }
  };
  return { header: dec(parts[0]), claims: dec(parts[1]) };
}

async function inspect(config: Config, v: Values, tokenArg: string | undefined): Promise<number> {
  const token = await readToken(tokenArg);
  const offline = Boolean(v.offline);
  const log = logger("token");
  const issuer = config.iam.issuer.enable ? await loadIssuer(config) : undefined;
  let client: IamClient | undefined;
  if (!offline && config.iam.opaque.enable) client = await iamClientFromConfig(config);
  const built = await buildVerifier(config, { log, issuer, iam: client });
  try {
    if (!offline) await built.start();
    const auth = new Authenticator(built.verifier, {
      cacheSize: 0,
      positiveTtlMs: 0,
      negativeTtlMs: 0,
    });
    const out = await auth.review({
      apiVersion: "authentication.k8s.io/v1",
      token,
      audiences: (v.audience as string[] | undefined) ?? [],
    });
    const { header, claims } = decodeParts(token);
    const report = {
      token: `${out.fingerprint} (${token.length} bytes)`,
      header,
      claimsUnverified: claims,
      accepted: out.answer.authenticated,
      reason: out.reason,
      error: out.answer.error,
      user: out.answer.user,
      audiences: out.answer.audiences,
      offline,
    };
    if (v.json) console.log(JSON.stringify(report, null, 2));
    else printReport(report);
    return out.answer.authenticated ? 0 : 1;
  } finally {
    built.stop();
    client?.close();
  }
}

function printReport(r: Record<string, unknown>) {
  const line = (k: string, val: unknown) => {
    if (val === undefined) return;
    console.log(`${(k + ":").padEnd(12)} ${typeof val === "string" ? val : JSON.stringify(val)}`);
  };
  line("token", r.token);
  line("header", r.header);
  line("claims", r.claimsUnverified);
  line("verdict", r.accepted ? "ACCEPTED" : `REJECTED (${r.reason}): ${r.error}`);
  const user = r.user as
    | { username: string; uid: string; groups: string[]; extra: unknown }
    | undefined;
  if (user) {
    line("username", user.username);
    line("uid", user.uid);
    line("groups", user.groups.join(", "));
    line("extra", user.extra);
  }
  line("audiences", r.audiences);
  if (r.offline) console.log("(offline: JWKS not fetched, IAM not asked)");
}
