/**
 * metav1.LabelSelector objects as requirement lists for the shared matcher in mod/kube, with
 * the API server's rules checked here (an invalid selector must not silently match all).
 */
import { type LabelRequirement, matchLabelRequirements, SelectorError } from "../kube/selectors.ts";
import type { LabelSelector } from "./types.ts";

export { SelectorError };

const OPS: Record<string, LabelRequirement["op"]> = {
  In: "in",
  NotIn: "notin",
  Exists: "exists",
  DoesNotExist: "!",
};

/** Requirements of a selector; `{}` is the empty list, which matches everything. */
export function requirements(sel: LabelSelector | undefined): LabelRequirement[] {
  const out: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(sel?.matchLabels ?? {})) {
    out.push({ key, op: "=", values: [String(value)] });
  }
  for (const e of sel?.matchExpressions ?? []) {
    const op = OPS[e.operator];
    if (!op) throw new SelectorError(`unknown label selector operator "${e.operator}"`);
    const values = e.values ?? [];
    if ((op === "in" || op === "notin") && values.length === 0) {
      throw new SelectorError(`operator ${e.operator} on "${e.key}" needs values`);
    }
    if ((op === "exists" || op === "!") && values.length > 0) {
      throw new SelectorError(`operator ${e.operator} on "${e.key}" takes no values`);
    }
    out.push({ key: e.key, op, values });
  }
  return out;
}

export function matches(reqs: LabelRequirement[], labels: Record<string, string>): boolean {
  return matchLabelRequirements(reqs, labels);
}
