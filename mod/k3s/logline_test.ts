import assert from "node:assert/strict";
import { parseK3sLine } from "./logline.ts";

Deno.test("k3s log lines: logrus text lines keep level, message and extra fields", () => {
  assert.deepEqual(
    parseK3sLine(
      'time="2025-01-01T00:00:00Z" level=info msg="Starting k3s v1.31.4+k3s1 (a1b2c3d4)"',
    ),
    { level: "info", msg: "Starting k3s v1.31.4+k3s1 (a1b2c3d4)" },
  );
  assert.deepEqual(
    parseK3sLine('time="2025-01-01T00:00:00Z" level=warning msg="say \\"hi\\"" node=a'),
    { level: "warn", msg: 'say "hi"', fields: { node: "a" } },
  );
  assert.equal(parseK3sLine('time="x" level=fatal msg="boom"').level, "error");
  assert.equal(parseK3sLine('time="x" level=debug msg="d"').level, "debug");
});

Deno.test("k3s log lines: klog lines map I/W/E/F and keep the source location", () => {
  assert.deepEqual(
    parseK3sLine("E1121 05:50:00.123456    4242 controller.go:12] sync failed: boom"),
    { level: "error", msg: "sync failed: boom", fields: { source: "controller.go:12" } },
  );
  assert.equal(parseK3sLine("W0101 00:00:00.000001 1 a.go:1] careful").level, "warn");
  assert.equal(parseK3sLine("I0101 00:00:00.000001 1 a.go:1] fine").level, "info");
  assert.equal(parseK3sLine("F0101 00:00:00.000001 1 a.go:1] dead").level, "error");
});

Deno.test("k3s log lines: anything else passes through verbatim", () => {
  assert.deepEqual(parseK3sLine("plain output"), { level: "info", msg: "plain output" });
  assert.deepEqual(parseK3sLine('time="x" level=info no message'), {
    level: "info",
    msg: 'time="x" level=info no message',
  });
});
