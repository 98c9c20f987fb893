import { type ConfigIssue, formatIssue } from "./schema.ts";

/** The configuration is invalid; `issues` names every bad key path, value and expectation. */
export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(
      `invalid configuration (${issues.length} ${
        issues.length === 1 ? "problem" : "problems"
      }):\n` +
        issues.map((i) => `  ${formatIssue(i)}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** A bad command line (unknown flag, missing value); the face prints it and exits 2. */
export class FlagError extends Error {
  constructor(message: string, readonly command: string) {
    super(message);
    this.name = "FlagError";
  }
}
