import type { Config } from "../config/spec.ts";

export type Status = "ok" | "warn" | "fail";

export interface Finding {
  status: Status;
  /** The check's name, e.g. `k3s` or `port health.listen`. */
  check: string;
  detail: string;
  /** What to do about a warn/fail; ok findings have none. */
  fix?: string;
}

/** What a check may look at; tests substitute PATH and the config. */
export interface DoctorContext {
  /** The effective config (defaults plus whatever parsed) even when it is invalid. */
  config: Config;
  /** Directories searched for executables. */
  path: string[];
  /** Running as root: kernel features are probed for real, not only looked up. */
  root: boolean;
}

export interface DoctorCheck {
  name: string;
  run(ctx: DoctorContext): Promise<Finding[]>;
}

export const ok = (check: string, detail: string): Finding => ({ status: "ok", check, detail });
export const warn = (check: string, detail: string, fix: string): Finding => ({
  status: "warn",
  check,
  detail,
  fix,
});
export const fail = (check: string, detail: string, fix: string): Finding => ({
  status: "fail",
  check,
  detail,
  fix,
});
