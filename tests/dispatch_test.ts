/**
 * main.ts only dispatches: these run the real program (through `deno run` and through the
 * scripts/k8shost launcher) and check which face answers, exit codes and where output goes.
 */
import assert from "node:assert/strict";
import { fakeDenoPrefix, ROOT, run, type RunResult } from "./dispatch_support.ts";

const MAIN = `${ROOT}/main.ts`;
const deno = (args: string[], env: Record<string, string> = {}) =>
  run(Deno.execPath(), ["run", "--quiet", "--allow-all", MAIN, ...args], { env });

const FACES = ["server", "agent", "token", "tenant", "config", "doctor", "version", "help"];

Deno.test("dispatch: no command prints usage on stderr and exits 2", async () => {
  const r = await deno([]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^usage: k8shost <command> \[options\]/);
});

Deno.test("dispatch: an unknown command names it, prints usage on stderr, exits 2", async () => {
  const r = await deno(["frobnicate", "--now"]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^k8shost: unknown command "frobnicate"\n\nusage: k8shost/);
  for (const name of ["toString", "constructor", "__proto__"]) {
    const p = await deno([name]);
    assert.equal(p.code, 2, name);
    assert.match(p.stderr, new RegExp(`^k8shost: unknown command "${name}"`), name);
  }
});

Deno.test("dispatch: help, --help and -h print usage listing every command", async () => {
  for (const flag of ["help", "--help", "-h"]) {
    const r = await deno([flag]);
    assert.equal(r.code, 0, flag);
    assert.equal(r.stderr, "");
    for (const face of FACES) assert.match(r.stdout, new RegExp(`^  ${face} `, "m"), face);
  }
});

Deno.test("dispatch: help COMMAND is COMMAND --help", async () => {
  const r = await deno(["help", "config"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^usage: k8shost config /);
});

Deno.test("dispatch: version and --version match deno.json", async () => {
  const { version } = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  for (const arg of ["version", "--version"]) {
    const r = await deno([arg]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `k8shost ${version} (deno ${Deno.version.deno})\n`);
  }
  const h = await deno(["version", "--help"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^usage: k8shost version/);
});

Deno.test("dispatch: a symlink named prismnet to the launcher is the CNI plugin", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-dispatch-" });
  try {
    const env = { K8SHOST_DENO_PREFIX: await fakeDenoPrefix(dir) };
    const prismnet = `${dir}/prismnet`;
    const other = `${dir}/k8shost-dev`;
    await Deno.symlink(`${ROOT}/scripts/k8shost`, prismnet);
    await Deno.symlink(`${ROOT}/scripts/k8shost`, other);

    // The same launcher under another name (and no CNI_COMMAND) is the ordinary CLI.
    const cli = await run(other, ["version"], { env });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^k8shost /);

    const cni = await run(prismnet, [], { env: { ...env, CNI_COMMAND: "VERSION" } });
    assertCniFace(cni, "CNI_COMMAND=VERSION via the prismnet symlink");
    // No CNI_COMMAND: only argv[0] can have routed this to the CNI face.
    const byName = await run(prismnet, ["version"], { env });
    assert.ok(!byName.stdout.startsWith("k8shost "), "argv[0]=prismnet must not reach the CLI");
    assertCniFace(byName, "argv[0]=prismnet alone", { anyCommand: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dispatch: CNI_COMMAND set routes to the CNI face whatever argv[0] is", async () => {
  const r = await deno([], { CNI_COMMAND: "VERSION" });
  assertCniFace(r, "deno run main.ts with CNI_COMMAND=VERSION");
});

/** The face that answered is the CNI plugin (cni/plugin.ts), speaking the CNI spec's JSON. */
function assertCniFace(r: RunResult, what: string, opts: { anyCommand?: boolean } = {}) {
  assert.doesNotMatch(r.stdout + r.stderr, /usage: k8shost/, what);
  const out = JSON.parse(r.stdout);
  if (opts.anyCommand) {
    // Without CNI_COMMAND the plugin answers with the CNI error for missing variables (code 4).
    assert.equal(out.code, 4, `${what}: ${r.stdout}`);
    assert.match(out.msg, /CNI_COMMAND/, what);
    assert.notEqual(r.code, 0, what);
    return;
  }
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  assert.ok(Array.isArray(out.supportedVersions), `${what}: ${r.stdout}`);
  assert.ok(out.supportedVersions.includes("1.0.0"), `${what}: ${r.stdout}`);
}
