/**
 * .ci/run with stand-ins for apt-get, dpkg-query and deno: which packages it installs, that it
 * fails fast on fmt/lint/check problems, that it runs exactly `deno task test`, and the final
 * `N passed, N failed[, N skipped]` line and exit code.
 */
import assert from "node:assert/strict";
import { DENO_VERSION, denoPlatform, ROOT, run } from "./dispatch_support.ts";

interface Fake {
  testOutput: string;
  testRc?: number;
  fmtRc?: number;
  installed?: string[];
}

async function ciRun(fake: Fake) {
  const dir = await Deno.makeTempDir({ prefix: "kh-launcher-ci-" });
  try {
    const bin = `${dir}/bin`;
    const denoDir = `${dir}/prefix/${DENO_VERSION}/node_modules/@deno/${denoPlatform()}`;
    await Deno.mkdir(bin);
    await Deno.mkdir(denoDir, { recursive: true });
    const script = (file: string, body: string) =>
      Deno.writeTextFile(file, `#!/bin/bash\n${body}\n`, { mode: 0o755 });
    await script(`${bin}/apt-get`, `echo "apt-get $*" >> "$CALLS"`);
    // dpkg-query -W -f=... PKG: "installed" for the packages in FAKE_INSTALLED.
    await script(
      `${bin}/dpkg-query`,
      `for p in $FAKE_INSTALLED; do [ "$p" = "\${@: -1}" ] && { printf 'install ok installed'; exit 0; }; done; exit 1`,
    );
    await script(
      `${denoDir}/deno`,
      `echo "deno $*" >> "$CALLS"
case "$*" in
  "task test") printf '%b' "$FAKE_TEST_OUTPUT"; exit "$FAKE_TEST_RC" ;;
  "fmt --check") exit "$FAKE_FMT_RC" ;;
  --version) echo "deno ${DENO_VERSION}" ;;
esac`,
    );
    const r = await run(`${ROOT}/.ci/run`, [], {
      env: {
        PATH: `${bin}:${Deno.env.get("PATH")}`,
        CI: "true",
        CALLS: `${dir}/calls`,
        K8SHOST_DENO_PREFIX: `${dir}/prefix`,
        FAKE_TEST_OUTPUT: fake.testOutput,
        FAKE_TEST_RC: String(fake.testRc ?? 0),
        FAKE_FMT_RC: String(fake.fmtRc ?? 0),
        FAKE_INSTALLED: (fake.installed ?? []).join(" "),
        TMPDIR: dir,
      },
    });
    const calls = (await Deno.readTextFile(`${dir}/calls`)).trim().split("\n");
    return { ...r, calls, lastLine: r.stdout.trimEnd().split("\n").at(-1) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listedPackages(): Promise<string[]> {
  const text = await Deno.readTextFile(`${ROOT}/.ci/apt-packages`).catch(() => "");
  return text.split("\n").flatMap((l) => l.replace(/#.*/, "").trim().split(/\s+/)).filter(Boolean);
}

Deno.test("ci: installs the missing listed packages, checks, then runs `deno task test`", async () => {
  const listed = await listedPackages();
  const r = await ciRun({
    testOutput: "running 3 tests\\nok | 12 passed | 0 failed (2s)\\n",
    installed: listed.slice(0, 1),
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.lastLine, "12 passed, 0 failed");
  const expected = [
    "apt-get update -q",
    ...(listed.length > 1
      ? [`apt-get install -y -q --no-install-recommends ${listed.slice(1).join(" ")}`]
      : []),
    "deno --version",
    "deno fmt --check",
    "deno lint",
    "deno task check",
    "deno task test",
  ];
  assert.deepEqual(r.calls, expected);
  assert.match(r.stdout, /ok \| 12 passed/, "the test output is shown (tee)");
});

Deno.test("ci: failures and ignored tests in the last line, deno's exit code kept", async () => {
  const r = await ciRun({
    testOutput: "ok | 3 passed (4 steps) | 0 failed (1s)\\n" +
      "\\x1b[31mFAILED\\x1b[0m | 10 passed (2 steps) | 2 failed | 1 ignored (9s)\\n",
    testRc: 1,
  });
  assert.equal(r.code, 1);
  assert.equal(r.lastLine, "10 passed, 2 failed, 1 skipped");
});

Deno.test("ci: no summary from deno still ends with the line and the exit code", async () => {
  const r = await ciRun({ testOutput: "error: Type checking failed.\\n", testRc: 1 });
  assert.equal(r.code, 1);
  assert.equal(r.lastLine, "0 passed, 0 failed");
  assert.match(r.stderr, /no test summary: deno test exited 1/);
});

Deno.test("ci: a formatting problem stops before the tests", async () => {
  const r = await ciRun({ testOutput: "ok | 1 passed | 0 failed\\n", fmtRc: 1 });
  assert.equal(r.code, 1);
  assert.ok(!r.calls.includes("deno task test"), r.calls.join("\n"));
  assert.match(r.stderr, /formatting problems: run `scripts\/deno fmt`/);
});
