/**
 * The NixOS module's option tree, derived from the product's own config schema so that the
 * module and the validator can never disagree about a key. `nixos/options.json` is this
 * function's output, checked in because Nix cannot run TypeScript; a test keeps it current.
 */
import { configSpec } from "../mod/config/spec.ts";
import { formatDuration, type Spec } from "../mod/config/schema.ts";

export interface NixOption {
  type: "str" | "int" | "bool" | "duration" | "listOfStr" | "listOfInt" | "enum";
  doc: string;
  default?: unknown;
  values?: readonly string[];
  secret?: boolean;
}
export type NixOptionTree = { [key: string]: NixOption | NixOptionTree };

export function nixOptions(spec: Spec = configSpec): NixOptionTree | NixOption {
  if (spec.kind === "object") {
    const out: NixOptionTree = {};
    for (const [k, f] of Object.entries(spec.fields)) out[k] = nixOptions(f);
    return out;
  }
  const base = { doc: spec.doc, ...(spec.secret ? { secret: true } : {}) };
  switch (spec.kind) {
    case "string":
      return spec.oneOf
        ? { type: "enum", values: spec.oneOf, default: spec.default, ...base }
        : { type: "str", default: spec.default, ...base };
    case "int":
      return { type: "int", default: spec.default, ...base };
    case "bool":
      return { type: "bool", default: spec.default, ...base };
    case "duration":
      return { type: "duration", default: formatDuration(spec.default ?? 0), ...base };
    case "list":
      return {
        type: spec.of.kind === "int" ? "listOfInt" : "listOfStr",
        default: spec.default ?? [],
        ...base,
      };
    default:
      return { type: "str", default: spec.default ?? "", ...base };
  }
}

export function renderOptionsJson(): string {
  return JSON.stringify(nixOptions(), null, 2) + "\n";
}

if (import.meta.main) {
  const out = new URL("./options.json", import.meta.url);
  await Deno.writeTextFile(out, renderOptionsJson());
  console.log(`wrote ${out.pathname}`);
}
