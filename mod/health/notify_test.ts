import assert from "node:assert/strict";
import { sdNotify, sockaddrUn } from "./notify.ts";
import { startNotifyReceiver } from "../../tests/supervisor_support.ts";

Deno.test("sd_notify: READY=1 arrives as one datagram on a real unix socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-health-notify-" });
  const path = `${dir}/notify.sock`;
  const rx = await startNotifyReceiver(path);
  try {
    const env = new Map([["NOTIFY_SOCKET", path]]);
    assert.equal(await sdNotify("READY=1\nSTATUS=all parts running", env), true);
    assert.equal(await rx.next(), "READY=1\nSTATUS=all parts running");
    assert.equal(await sdNotify("STOPPING=1", env), true);
    assert.equal(await rx.next(), "STOPPING=1");
  } finally {
    await rx.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sd_notify: no NOTIFY_SOCKET means not under systemd: nothing sent", async () => {
  assert.equal(await sdNotify("READY=1", new Map()), false);
});

Deno.test("sd_notify: a socket nobody listens on is an error naming it", async () => {
  const env = new Map([["NOTIFY_SOCKET", "/nonexistent/kh-health/notify.sock"]]);
  await assert.rejects(
    sdNotify("READY=1", env),
    /sd_notify to \/nonexistent\/kh-health\/notify\.sock failed: sendto .*errno 2/,
  );
});

Deno.test("sd_notify: sockaddr_un for paths (NUL-terminated) and abstract names", () => {
  const p = sockaddrUn("/run/x");
  assert.equal(p.length, 2 + 6 + 1);
  assert.equal(new Uint16Array(p.slice(0, 2).buffer)[0], 1);
  assert.equal(new TextDecoder().decode(p.slice(2, 8)), "/run/x");
  assert.equal(p[8], 0);
  const a = sockaddrUn("@sd");
  assert.deepEqual([...a.slice(2)], [0, 115, 100]);
  assert.throws(() => sockaddrUn("@"), /not a usable unix socket address/);
  assert.throws(() => sockaddrUn("/" + "x".repeat(200)), /not a usable/);
});
