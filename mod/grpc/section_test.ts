import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { clientOptionsFromSection } from "./section.ts";

const base = {
  endpoint: "svc.example:7000",
  caFile: "",
  certFile: "",
  keyFile: "",
  tokenFile: "",
  insecure: false,
  timeout: 10_000,
};

Deno.test("section: remote endpoints get TLS unless insecure; local ones plaintext", async () => {
  assertEquals((await clientOptionsFromSection("fiberlb", base)).tls, true);
  assertEquals((await clientOptionsFromSection("fiberlb", { ...base, insecure: true })).tls, false);
  const local = await clientOptionsFromSection("fiberlb", { ...base, endpoint: "127.0.0.1:7000" });
  assertEquals(local.tls, false);
  const unix = await clientOptionsFromSection("fiberlb", { ...base, endpoint: "unix:///run/x" });
  assertEquals(unix.tls, false);
});

Deno.test("section: a CA file means TLS even to loopback, and files are read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-grpc-" });
  try {
    await Deno.writeTextFile(`${dir}/ca.pem`, "CA");
    const o = await clientOptionsFromSection("iam", {
      ...base,
      endpoint: "127.0.0.1:1",
      caFile: `${dir}/ca.pem`,
    });
    assertEquals([o.tls, new TextDecoder().decode(o.caPem)], [true, "CA"]);
    await rejects(
      clientOptionsFromSection("iam", { ...base, certFile: `${dir}/missing.pem` }),
      /^Error: iam\.certFile: cannot read .*missing\.pem/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("section: the token is read from its file, trimmed, and re-read after rotation", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kh-grpc-" });
  try {
    const file = `${dir}/token`;
    await Deno.writeTextFile(file, "first\n");
    const o = await clientOptionsFromSection("prismnet", { ...base, tokenFile: file });
    assertEquals(await o.token!(), "first");
    await Deno.writeTextFile(file, "second\n");
    // Within the reuse window the cached token is served.
    assertEquals(await o.token!(), "first");
    await Deno.remove(file);
    const fresh = await clientOptionsFromSection("prismnet", { ...base, tokenFile: file });
    await rejects(async () => await fresh.token!(), /prismnet\.tokenFile: cannot read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
