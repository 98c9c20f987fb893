import { didYouMean, leaves, type Spec } from "./schema.ts";
import { configSpec } from "./spec.ts";

let leafIndex: Map<string, Spec> | undefined;

/** The leaf spec at a dotted path, or the closest known path for a did-you-mean. */
export function lookupLeaf(at: string): { spec: Spec } | { guess?: string } {
  leafIndex ??= new Map(leaves(configSpec));
  const spec = leafIndex.get(at);
  if (spec) return { spec };
  return { guess: didYouMean(at, [...leafIndex.keys()]) };
}

/** Sets a dotted path in a plain object tree, creating (or replacing non-object) parents. */
export function setAt(root: Record<string, unknown>, at: string, value: unknown) {
  const parts = at.split(".");
  let node = root;
  for (const p of parts.slice(0, -1)) {
    const next = node[p];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}
