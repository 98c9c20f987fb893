/**
 * scripts/deno (bootstrap of the pinned Deno from npm) and scripts/k8shost (the source-tree
 * launcher), with a stand-in `npm` on PATH so that nothing is downloaded.
 */
import assert from "node:assert/strict";
import { DENO_VERSION, denoPlatform, fakeDenoPrefix, ROOT, run } from "./dispatch_support.ts";

const SCRIPT = `${ROOT}/scripts/deno`;

/** A PATH holding only the basic tools scripts/deno uses, plus whatever `extra` adds. */
async function toolPath(dir: string, extra: Record<string, string> = {}): Promise<string> {
  const bin = `${dir}/bin`;
  await Deno.mkdir(bin, { recursive: true });
  for (const tool of ["bash", "uname", "mkdir", "rm", "mv", "flock", "sleep", "cat", "ln"]) {
    const real = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map((d) => `${d}/${tool}`).find(
      (p) => {
        try {
          return Deno.statSync(p).isFile;
        } catch {
          return false;
        }
      },
    );
    assert.ok(real, `${tool} not found on this host`);
    await Deno.symlink(real, `${bin}/${tool}`);
  }
  for (const [name, body] of Object.entries(extra)) {
    await Deno.writeTextFile(`${bin}/${name}`, `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  }
  return bin;
}

/**
 * A stand-in for `npm install --prefix DIR deno@V`: records its arguments and lays out what the
 * real package leaves (node_modules/@deno/<platform>/deno), pointing at the running deno.
 */
const FAKE_NPM = `
echo "$*" >> "$NPM_LOG"
sleep "\${NPM_DELAY:-0}"
[ -n "\${NPM_FAIL:-}" ] && { echo "npm ERR! network" >&2; exit 1; }
while [ $# -gt 0 ]; do [ "$1" = --prefix ] && prefix="$2"; shift; done
mkdir -p "$prefix/node_modules/@deno/${denoPlatform()}"
ln -s "${Deno.execPath()}" "$prefix/node_modules/@deno/${denoPlatform()}/deno"
`;

Deno.test("launcher: scripts/deno runs an installed Deno and prints its path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-launcher-" });
  try {
    const prefix = await fakeDenoPrefix(dir);
    const env = { K8SHOST_DENO_PREFIX: prefix };
    const v = await run(SCRIPT, ["--version"], { env });
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, new RegExp(`^deno ${Deno.version.deno} `));
    const p = await run(SCRIPT, ["--print-path"], { env });
    assert.equal(p.stdout, `${prefix}/${DENO_VERSION}/node_modules/@deno/${denoPlatform()}/deno\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("launcher: scripts/deno installs deno@pinned from npm once, even when raced", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-launcher-" });
  try {
    const bin = await toolPath(dir, { npm: FAKE_NPM });
    const prefix = `${dir}/fresh/deno`;
    const env = {
      PATH: bin,
      HOME: `${dir}/home`,
      K8SHOST_DENO_PREFIX: prefix,
      NPM_LOG: `${dir}/npm.log`,
      NPM_DELAY: "0.3",
    };
    const [a, b] = await Promise.all([
      run(SCRIPT, ["--version"], { env, clearEnv: true }),
      run(SCRIPT, ["--version"], { env, clearEnv: true }),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.match(a.stdout, /^deno /);
    const calls = (await Deno.readTextFile(env.NPM_LOG)).trim().split("\n");
    assert.equal(calls.length, 1, `npm ran ${calls.length} times: ${calls.join(" / ")}`);
    assert.match(
      calls[0],
      new RegExp(`^install --prefix ${prefix}/\\.install-\\d+ .*deno@${DENO_VERSION}$`),
    );
    const entries = [...Deno.readDirSync(prefix)].map((e) => e.name).sort();
    assert.deepEqual(entries, [".install.lock", DENO_VERSION], "no half-finished install left");
    // Installed: the next run does not call npm.
    const again = await run(SCRIPT, ["--print-path"], { env, clearEnv: true });
    assert.equal(again.code, 0);
    assert.equal((await Deno.readTextFile(env.NPM_LOG)).trim().split("\n").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("launcher: scripts/deno explains a failed or impossible install", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-launcher-" });
  try {
    const prefix = `${dir}/deno`;
    const failing = await toolPath(`${dir}/a`, { npm: FAKE_NPM });
    const r = await run(SCRIPT, ["--version"], {
      env: { PATH: failing, K8SHOST_DENO_PREFIX: prefix, NPM_LOG: `${dir}/log`, NPM_FAIL: "1" },
      clearEnv: true,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`npm install deno@${DENO_VERSION} failed`));
    assert.deepEqual([...Deno.readDirSync(prefix)].map((e) => e.name), [".install.lock"]);

    const noNpm = await toolPath(`${dir}/b`);
    const n = await run(SCRIPT, ["--version"], {
      env: { PATH: noNpm, K8SHOST_DENO_PREFIX: prefix },
      clearEnv: true,
    });
    assert.equal(n.code, 1);
    assert.equal(
      n.stderr,
      `scripts/deno: npm is needed to install Deno ${DENO_VERSION} (apt-get install -y npm)\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("launcher: scripts/k8shost runs main.ts from any directory, through symlinks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-launcher-" });
  try {
    const env = { K8SHOST_DENO_PREFIX: await fakeDenoPrefix(dir) };
    await Deno.symlink(`${ROOT}/scripts/k8shost`, `${dir}/k8shost`);
    const r = await run(`${dir}/k8shost`, ["config", "check", "--config", `${dir}/none.yaml`], {
      env,
      cwd: "/",
    });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      new RegExp(`--config: "${dir}/none.yaml" — expected a readable config file`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("launcher: the source-tree launcher and the compiled binary get the same V8 flags", async () => {
  const { V8_FLAGS } = await import("../mod/appliance/v8_flags.ts");
  const flag = `--v8-flags=${V8_FLAGS.join(",")}`;
  const launcher = await Deno.readTextFile(`${ROOT}/scripts/k8shost`);
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks;
  assert.ok(launcher.includes(`\nv8_flags=${flag}\n`), `scripts/k8shost must set ${flag}`);
  const execs = launcher.replace(/\\\n\s*/g, "").split("\n").filter((l) =>
    l.includes("run --quiet")
  );
  assert.equal(execs.length, 2, "the prismnet fast path and the general path");
  for (const l of execs) assert.ok(l.includes(' "$v8_flags" '), `flags not passed: ${l}`);
  assert.ok(tasks.compile.includes(` ${flag} `), `the compile task must pass ${flag}`);
  // V8 refuses a flag it does not know, so a launcher that starts proves the flags are valid.
  const out = await run(`${ROOT}/scripts/k8shost`, ["version"]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /^k8shost /);
});
