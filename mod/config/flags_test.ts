import assert from "node:assert/strict";
import { ConfigError, type FaceSpec, FlagError, helpText, parseFlags, runFace } from "./flags.ts";

const FACE: FaceSpec = {
  command: "k8shost server",
  summary: "run the control plane",
  flags: [
    { name: "no-k3s", kind: "bool", doc: "do not supervise k3s" },
    { name: "kubeconfig", kind: "string", metavar: "FILE", doc: "kubeconfig in attach mode" },
    { name: "parts", kind: "list", metavar: "LIST", doc: "parts to run" },
  ],
};

function flagError(args: string[], face = FACE): string {
  try {
    parseFlags(args, face);
  } catch (err) {
    assert.ok(err instanceof FlagError);
    return err.message;
  }
  return assert.fail("expected a FlagError");
}

Deno.test("flags: config, repeated --set, face flags, both value spellings", () => {
  const f = parseFlags(
    [
      "--config",
      "/etc/a.yaml",
      "--set",
      "log.level=debug",
      "--set=k3s.bin=/opt/k3s",
      "--no-k3s",
      "--kubeconfig=/k.yaml",
      "--parts",
      "webhook",
      "--parts=lb",
    ],
    FACE,
  );
  assert.equal(f.config, "/etc/a.yaml");
  assert.deepEqual(f.set, ["log.level=debug", "k3s.bin=/opt/k3s"]);
  assert.equal(f.values["no-k3s"], true);
  assert.equal(f.values.kubeconfig, "/k.yaml");
  assert.deepEqual(f.values.parts, ["webhook", "lb"]);
  assert.equal(f.help, false);
  assert.deepEqual(f.positionals, []);
});

Deno.test("flags: --help and -h anywhere, even next to bad positionals", () => {
  assert.equal(parseFlags(["--help"], FACE).help, true);
  assert.equal(parseFlags(["extra", "-h"], FACE).help, true);
  assert.equal(parseFlags(["--no-k3s=false"], FACE).values["no-k3s"], false);
});

Deno.test("flags: unknown flags fail with a did-you-mean", () => {
  assert.equal(flagError(["--no-k3"]), 'unknown flag "--no-k3" — did you mean "--no-k3s"?');
  assert.equal(flagError(["--confg", "x"]), 'unknown flag "--confg" — did you mean "--config"?');
  assert.equal(flagError(["--frobnicate"]), 'unknown flag "--frobnicate"');
  assert.equal(flagError(["-v"]), 'unknown flag "-v" (flags are long: --name)');
});

Deno.test("flags: missing values, bad booleans, stray positionals", () => {
  assert.equal(flagError(["--kubeconfig"]), "flag --kubeconfig needs a value (FILE)");
  assert.equal(flagError(["--no-k3s=yes"]), 'flag --no-k3s takes true or false, not "yes"');
  assert.equal(flagError(["serve"]), 'unexpected argument "serve"');
  const f = parseFlags(["check", "--", "--not-a-flag"], {
    ...FACE,
    positionals: ["action"],
    restPositionals: true,
  });
  assert.deepEqual(f.positionals, ["check", "--not-a-flag"]);
});

Deno.test("flags: faces without config take no --config", () => {
  const face: FaceSpec = { command: "k8shost version", summary: "v", noConfig: true };
  assert.equal(flagError(["--config", "x"], face), 'unknown flag "--config"');
  assert.ok(!helpText(face).includes("--config"));
});

Deno.test("flags: help text lists every flag with its placeholder", () => {
  const text = helpText(FACE);
  for (
    const line of [
      "usage: k8shost server [flags]",
      "--config FILE",
      "--set KEY=VALUE",
      "--no-k3s ",
      "--kubeconfig FILE",
      "--parts LIST",
      "--help, -h",
    ]
  ) assert.ok(text.includes(line), `${line} in:\n${text}`);
});

Deno.test("flags: runFace maps flag and config errors to exit 2 on stderr", async () => {
  const errors: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    assert.equal(
      await runFace("k8shost server", () => Promise.resolve(parseFlags(["--bogus"], FACE) && 0)),
      2,
    );
    const bad = new ConfigError([{ path: "mode", value: "x", expected: "one of server, agent" }]);
    assert.equal(await runFace("k8shost server", () => Promise.reject(bad)), 2);
    assert.equal(await runFace("k8shost server", () => Promise.resolve(7)), 7);
    await assert.rejects(runFace("k8shost server", () => Promise.reject(new Error("boom"))));
  } finally {
    console.error = orig;
  }
  assert.deepEqual(errors, [
    'k8shost server: unknown flag "--bogus"\nRun `k8shost server --help` for usage.',
    'k8shost server: invalid configuration (1 problem):\n  mode: "x" — expected one of server, agent',
  ]);
});
