/** Label/field selector grammar and matching, as apimachinery defines them. */
import assert from "node:assert/strict";
import {
  labelSelectorToString,
  matchFieldRequirements,
  matchLabels,
  parseFieldSelector,
  parseLabelSelector,
} from "../mod/kube/selectors.ts";

Deno.test("selectors: label requirements and their treatment of absent keys", () => {
  const l = { app: "web", tier: "front", "k8s.io/part": "x", n: "5" };
  assert.ok(matchLabels("", l));
  assert.ok(matchLabels("app=web,tier==front", l));
  assert.ok(matchLabels("app in (web, db)", l));
  assert.ok(!matchLabels("app notin (web)", l));
  assert.ok(matchLabels("missing notin (x)", l), "notin matches an absent key");
  assert.ok(matchLabels("missing!=x", l), "!= matches an absent key");
  assert.ok(!matchLabels("missing in (x)", l));
  assert.ok(matchLabels("k8s.io/part,!gone", l));
  assert.ok(!matchLabels("!app", l));
  assert.ok(matchLabels("n>3,n<6", l));
  assert.ok(matchLabels(" app = web , tier ", l), "whitespace is allowed");
  assert.deepEqual(parseLabelSelector("a in (x,y),b"), [
    { key: "a", op: "in", values: ["x", "y"] },
    { key: "b", op: "exists", values: [] },
  ]);
  for (const bad of ["a in (", "a in ()", "=x", "a=b c", "a==(x)", "-bad=x", "a,,b"]) {
    assert.throws(() => parseLabelSelector(bad), `"${bad}" must be rejected`);
  }
});

Deno.test("selectors: metav1.LabelSelector to string", () => {
  const s = labelSelectorToString({
    matchLabels: { app: "web" },
    matchExpressions: [
      { key: "tier", operator: "In", values: ["a", "b"] },
      { key: "x", operator: "DoesNotExist" },
      { key: "y", operator: "Exists" },
      { key: "z", operator: "NotIn", values: ["q"] },
    ],
  });
  assert.equal(s, "app=web,tier in (a,b),!x,y,z notin (q)");
  assert.ok(matchLabels(s, { app: "web", tier: "b", y: "" }));
  assert.throws(() => labelSelectorToString({ matchExpressions: [{ key: "a", operator: "Gt" }] }));
});

Deno.test("selectors: field selectors on dotted paths with escapes", () => {
  const pod = { metadata: { name: "p,1", namespace: "ns" }, spec: { nodeName: "n1" }, status: {} };
  assert.ok(matchFieldRequirements(parseFieldSelector("metadata.name=p\\,1"), pod));
  assert.ok(
    matchFieldRequirements(parseFieldSelector("spec.nodeName==n1,metadata.namespace!=x"), pod),
  );
  assert.ok(matchFieldRequirements(parseFieldSelector("status.phase="), pod), "absent is empty");
  assert.ok(!matchFieldRequirements(parseFieldSelector("spec.nodeName!=n1"), pod));
  assert.throws(() => parseFieldSelector("spec.nodeName"));
});
