import assert from "node:assert/strict";
import { FramingError, JsonStreamSplitter } from "./framing.ts";

const messages = [
  { id: 1, method: "echo", params: [] },
  { id: null, method: "update2", params: ["m", { T: { u: { modify: { s: "a}b]c{d[" } } } }] },
  { result: [{ rows: [{ name: 'quote " and \\ backslash', x: "\\" }] }], error: null, id: 7 },
  { result: "\u00e9\u4e2d\ud83d\ude00 non-ascii", id: 8 },
  [1, [2, [3, { "}": "{" }]]],
  { e: "" },
  { e: "\\\\" },
  { e: '\\"}' },
];
const wire = messages.map((m) => JSON.stringify(m)).join("");

Deno.test("splitter: every chunking of a stream yields the same messages", () => {
  // Every split point, plus single-character feeding, over messages full of brackets in strings.
  for (let cut = 0; cut <= wire.length; cut++) {
    const s = new JsonStreamSplitter();
    const out = [...s.push(wire.slice(0, cut)), ...s.push(wire.slice(cut))];
    assert.deepEqual(out.map((t) => JSON.parse(t)), messages, `cut at ${cut}`);
    assert.equal(s.pending(), 0);
  }
  const s = new JsonStreamSplitter();
  const out: string[] = [];
  for (const ch of wire) out.push(...s.push(ch));
  assert.deepEqual(out.map((t) => JSON.parse(t)), messages);
});

Deno.test("splitter: whitespace between messages, and a partial message is held", () => {
  const s = new JsonStreamSplitter();
  assert.deepEqual(s.push(' \n{"a":1}\r\n\t{"b":'), ['{"a":1}']);
  assert.equal(s.pending(), 5);
  assert.deepEqual(s.push('"}"}  '), ['{"b":"}"}']);
  assert.equal(s.pending(), 0);
});

Deno.test("splitter: escape state survives a chunk boundary", () => {
  const s = new JsonStreamSplitter();
  // The backslash ends one chunk; the escaped quote starts the next: the string goes on.
  assert.deepEqual(s.push('{"k":"a\\'), []);
  assert.deepEqual(s.push('"}"}'), ['{"k":"a\\"}"}']);
  assert.deepEqual(JSON.parse('{"k":"a\\"}"}'), { k: 'a"}' });
});

Deno.test("splitter: many messages in one chunk", () => {
  const many = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ id: i, s: "[x]" }));
  const s = new JsonStreamSplitter();
  const t0 = performance.now();
  const out = s.push(many.join(""));
  assert.equal(out.length, many.length);
  assert.equal(JSON.parse(out[19_999]).id, 19_999);
  // Linear, not quadratic: 20k messages split well under a second even on a slow CI machine.
  assert.ok(performance.now() - t0 < 1000);
});

Deno.test("splitter: garbage between messages is an error, as is an endless message", () => {
  assert.throws(() => new JsonStreamSplitter().push('{"a":1} x'), FramingError);
  assert.throws(() => new JsonStreamSplitter().push('"bare string"'), FramingError);
  assert.throws(() => new JsonStreamSplitter().push("42"), FramingError);
  const small = new JsonStreamSplitter(16);
  assert.throws(() => small.push('{"aaaaaaaaaaaaaaaaaaaa'), /exceeds 16/);
});
