/** The effective config for people: secrets redacted, durations written back as "30s". */
import { formatDuration, type Spec } from "./schema.ts";
import { type Config, configSpec } from "./spec.ts";

export const REDACTED = "<redacted>";

export function redactedConfig(config: Config): Record<string, unknown> {
  return render(configSpec, config) as Record<string, unknown>;
}

function render(spec: Spec, value: unknown): unknown {
  switch (spec.kind) {
    case "object":
      return Object.fromEntries(
        Object.entries(spec.fields).map(([k, f]) => [
          k,
          render(f, (value as Record<string, unknown> | undefined)?.[k]),
        ]),
      );
    case "list":
      return Array.isArray(value) ? value.map((v) => render(spec.of, v)) : value;
    case "duration":
      return typeof value === "number" ? formatDuration(value) : value;
    default:
      return spec.secret && value !== "" && value !== undefined ? REDACTED : value;
  }
}
