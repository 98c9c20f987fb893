/** Ports the config will listen on, and the data directory. */
import { type DoctorCheck, fail, type Finding, ok, warn } from "./types.ts";
import { bindProblem } from "./host.ts";
import { parseHostPort } from "../config/net.ts";
import type { Config } from "../config/spec.ts";

/** Listeners of the mode the config runs in: [key path, value, transports]. */
export function listenersOf(c: Config): [string, string, ("tcp" | "udp")[]][] {
  const out: [string, string, ("tcp" | "udp")[]][] = [];
  if (c.health.listen !== "") out.push(["health.listen", c.health.listen, ["tcp"]]);
  if (c.mode === "server" && c.iam.enable) {
    out.push(["iam.webhook.listen", c.iam.webhook.listen, ["tcp"]]);
  }
  if (c.mode === "server" && c.flashdns.enable) {
    out.push(["flashdns.listen", c.flashdns.listen, ["udp", "tcp"]]);
  }
  return out;
}

export const portsCheck: DoctorCheck = {
  name: "ports",
  async run({ config }) {
    const out: Finding[] = [];
    for (const [key, value, transports] of listenersOf(config)) {
      const check = `port ${key}`;
      const hp = parseHostPort(value);
      if (typeof hp === "string") {
        out.push(fail(check, `"${value}" is not ${hp}`, `correct ${key}`));
        continue;
      }
      if (hp.port === 0) {
        out.push(ok(check, `${value}: a free port is picked at start`));
        continue;
      }
      const problems: string[] = [];
      for (const t of transports) {
        const why = await bindProblem(hp.host, hp.port, t);
        if (why) problems.push(`${t} ${why}`);
      }
      const running = problems.some((p) => p.endsWith("in use"))
        ? " (is k8shost already running?)"
        : "";
      out.push(
        problems.length === 0 ? ok(check, `${value} (${transports.join("+")}) is free`) : fail(
          check,
          `${value}: ${problems.join(", ")}${running}`,
          `stop what listens there (ss -ltunp 'sport = :${hp.port}') or change ${key}`,
        ),
      );
    }
    return out;
  },
};

export const dataDirCheck: DoctorCheck = {
  name: "data dir",
  run({ config }) {
    return Promise.resolve([inspectDataDir(config.dataDir)]);
  },
};

function inspectDataDir(dir: string): Finding {
  const check = "data dir";
  let st: Deno.FileInfo | undefined;
  try {
    st = Deno.statSync(dir);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      return fail(check, `${dir}: ${(err as Error).message}`, `make ${dir} accessible to root`);
    }
  }
  if (!st) {
    const parent = nearestExisting(dir);
    const why = writeProblem(parent);
    return why
      ? fail(
        check,
        `${dir} is missing and ${parent} is not writable (${why})`,
        `mkdir -m 0700 -p ${dir}`,
      )
      : ok(check, `${dir} does not exist yet; it is created under ${parent} at start`);
  }
  if (!st.isDirectory) {
    return fail(check, `${dir} is not a directory`, `move it away, or set dataDir elsewhere`);
  }
  const why = writeProblem(dir);
  if (why) {
    return fail(check, `${dir} is not writable (${why})`, `chown root ${dir}; chmod 0700 ${dir}`);
  }
  const mode = (st.mode ?? 0) & 0o777;
  const octal = mode.toString(8).padStart(4, "0");
  if (mode & 0o022) {
    return warn(
      check,
      `${dir} has mode ${octal}: other users can write k8shost state (keys, tokens)`,
      `chmod 0700 ${dir}`,
    );
  }
  const uid = Deno.uid();
  if (st.uid !== null && uid !== null && st.uid !== uid) {
    return warn(
      check,
      `${dir} is owned by uid ${st.uid}, k8shost runs as uid ${uid}`,
      `chown ${uid} ${dir}`,
    );
  }
  return ok(check, `${dir} mode ${octal}, owner uid ${st.uid}, writable`);
}

function nearestExisting(dir: string): string {
  let p = dir;
  while (p !== "/" && p !== "") {
    p = p.slice(0, p.lastIndexOf("/")) || "/";
    try {
      if (Deno.statSync(p).isDirectory) return p;
    } catch { /* keep climbing */ }
  }
  return "/";
}

/** Creates and removes a scratch file: the only honest test of writability. */
function writeProblem(dir: string): string | undefined {
  try {
    const f = Deno.makeTempFileSync({ dir, prefix: ".kh-doctor-" });
    Deno.removeSync(f);
    return undefined;
  } catch (err) {
    return err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (err as Error).message;
  }
}
