/**
 * docs/config-reference.md is generated from configSpec. This fails whenever a key is added or
 * changed without regenerating it: run `deno task gen-config-doc`.
 */
import assert from "node:assert/strict";
import {
  formatMarkdown,
  README_FILE,
  REFERENCE_FILE,
  renderConfigReference,
  withReadmeReference,
} from "../scripts/gen-config-doc.ts";
import { envName, leaves } from "../mod/config/schema.ts";
import { configSpec } from "../mod/config/spec.ts";

Deno.test("config reference: docs/config-reference.md is up to date", async () => {
  const want = await formatMarkdown(renderConfigReference());
  const have = await Deno.readTextFile(REFERENCE_FILE).catch(() => "(missing)");
  assert.ok(
    have === want,
    "docs/config-reference.md is out of date: run `deno task gen-config-doc` and commit it",
  );
});

Deno.test("config reference: every leaf appears with its env variable", () => {
  const text = renderConfigReference();
  for (const [at] of leaves(configSpec)) {
    assert.ok(text.includes(`| \`${at}\` |`), at);
    assert.ok(text.includes(`\`${envName(at)}\``), envName(at));
  }
});

Deno.test("config reference: README.md carries the current reference", async () => {
  const reference = await formatMarkdown(renderConfigReference());
  const readme = await Deno.readTextFile(README_FILE);
  assert.ok(
    readme === await formatMarkdown(withReadmeReference(readme, reference)),
    "README.md's configuration reference is out of date: run `deno task gen-config-doc`",
  );
});
