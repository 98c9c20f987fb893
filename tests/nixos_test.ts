/**
 * The NixOS module, tested without a Nix daemon: the Nix files parse, the option tree is
 * current with the product's schema, the config the module would write for example option sets
 * passes the product's own validator, and the unit matches the CLI and the supervisor.
 */
import { deepStrictEqual as assertEquals, match, ok, rejects } from "node:assert/strict";
import { renderOptionsJson } from "../nixos/options.ts";
import { ConfigError, loadConfig } from "../mod/config/mod.ts";

const root = new URL("..", import.meta.url).pathname;
const nixFiles = [
  "flake.nix",
  "nixos/module.nix",
  "nixos/lib.nix",
  "nixos/unit.nix",
  "nixos/package.nix",
  "nixos/tests/k8shost.nix",
];

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd: root, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

function nixEval(expr: string): Promise<unknown> {
  return run("nix-instantiate", ["--eval", "--strict", "--json", "-E", expr]).then(JSON.parse);
}

Deno.test("nix files parse", async () => {
  for (const f of nixFiles) await run("nix-instantiate", ["--parse", f]);
});

Deno.test("nixos/options.json is generated from the current config schema", async () => {
  const onDisk = await Deno.readTextFile(`${root}nixos/options.json`);
  ok(
    onDisk === renderOptionsJson(),
    "nixos/options.json is stale: run `deno run -A nixos/options.ts`",
  );
});

/** Example configs name host files (keys, CA bundles); point them at real temp files. */
async function withTempFiles(cfg: unknown, dir: string): Promise<unknown> {
  if (Array.isArray(cfg)) return Promise.all(cfg.map((v) => withTempFiles(v, dir)));
  if (!cfg || typeof cfg !== "object") return cfg;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (/Files?$/.test(k) && (typeof v === "string" || Array.isArray(v))) {
      const paths = [v].flat() as string[];
      const local = await Promise.all(paths.map(async (p) => {
        const f = `${dir}/${p.replaceAll("/", "_")}`;
        await Deno.writeTextFile(f, "placeholder\n", { mode: 0o600 });
        return f;
      }));
      out[k] = Array.isArray(v) ? local : local[0];
    } else out[k] = await withTempFiles(v, dir);
  }
  return out;
}

async function renderExample(name: string) {
  return await nixEval(
    `let l = import ./nixos/lib.nix; ex = import ./nixos/tests/examples/${name}.nix; in ` +
      `{ unknown = l.unknownKeys l.tree ex ""; config = l.render l.tree ex; }`,
  ) as { unknown: string[]; config: Record<string, unknown> };
}

async function validateRendered(config: unknown) {
  const dir = await Deno.makeTempDir({ prefix: "kh-nixos-" });
  try {
    const file = `${dir}/config.yaml`;
    await Deno.writeTextFile(file, JSON.stringify(await withTempFiles(config, dir)));
    return await loadConfig({ file, env: {} });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const name of ["single-server", "ha-first-server", "ha-join-server", "agent"]) {
  Deno.test(`example ${name}: the module's config passes the product's validator`, async () => {
    const { unknown, config } = await renderExample(name);
    assertEquals(unknown, []);
    const example = await nixEval(`import ./nixos/tests/examples/${name}.nix`) as Record<
      string,
      unknown
    >;
    const loaded = await validateRendered(config);
    assertEquals(loaded.mode, example.mode);
    // Unset options are left out of the file, so the product's defaults apply.
    ok(!("dataDir" in config), "unset options must not be written");
    assertEquals(loaded.dataDir, "/var/lib/k8shost");
  });
}

Deno.test("example invalid-overlap: the validator rejects what the module would write", async () => {
  const { config } = await renderExample("invalid-overlap");
  await rejects(validateRendered(config), (e: unknown) => {
    ok(e instanceof ConfigError);
    match(e.message, /clusterCIDR|serviceCIDR/);
    return true;
  });
});

Deno.test("unknown option keys are found, as the module system would reject them", async () => {
  const unknown = await nixEval(
    `let l = import ./nixos/lib.nix; in l.unknownKeys l.tree { networking.clusterCidr = "x"; fiberlb.pool = "y"; mode = "agent"; } ""`,
  );
  assertEquals(unknown, ["fiberlb.pool", "networking.clusterCidr"]);
});

Deno.test("unit: ExecStart and notify settings match the CLI and the supervisor", async () => {
  for (const mode of ["server", "agent"]) {
    const unit = await nixEval(
      `import ./nixos/unit.nix { k8shost = "/bin/k8shost"; mode = "${mode}"; configFile = "/etc/k8shost/config.yaml"; }`,
    ) as { serviceConfig: Record<string, unknown> };
    const sc = unit.serviceConfig;
    assertEquals(sc.ExecStart, `/bin/k8shost ${mode} --config /etc/k8shost/config.yaml`);
    assertEquals([sc.Type, sc.NotifyAccess, sc.KillMode, sc.Delegate, sc.Restart], [
      "notify",
      "main",
      "process",
      "yes",
      "always",
    ]);
    // The face named in ExecStart accepts exactly these flags.
    const help = await run(`${root}scripts/k8shost`, [mode, "--help"]);
    match(help, /--config FILE/);
  }
});
