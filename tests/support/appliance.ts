/**
 * Scaffolding of the tests that run the whole appliance (runAppliance): a temp dir, captured
 * logs, a stop signal and the health server it reports, all torn down whatever the test did; a
 * validated config rooted in the temp dir; the environment the stand-in k3s needs.
 */
import assert from "node:assert/strict";
import { validate } from "../../mod/config/schema.ts";
import { type Config, configSpec } from "../../mod/config/spec.ts";
import type { HealthServer } from "../../mod/health/server.ts";
import { captureLogs, pathWithDeno, startNotifyReceiver } from "../supervisor_support.ts";

export type NotifyReceiver = Awaited<ReturnType<typeof startNotifyReceiver>>;

export interface ApplianceTest {
  dir: string;
  logs: ReturnType<typeof captureLogs>;
  /** Stops the appliance; aborted again after the test, so nothing outlives it. */
  stop: AbortController;
  /** The health server, once runAppliance has reported it through `onHealth`. */
  health?: HealthServer;
  onHealth(h: HealthServer): void;
  /** Runs `cleanup` after the test, before the temp dir is removed (last registered first). */
  defer(cleanup: () => Promise<void>): void;
  /** Starts a systemd NOTIFY_SOCKET receiver at `<dir>/notify.sock`, closed after the test. */
  notifyReceiver(): Promise<NotifyReceiver>;
}

export async function withApplianceTest(
  dirPrefix: string,
  fn: (t: ApplianceTest) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: dirPrefix });
  const logs = captureLogs();
  const cleanups: Array<() => Promise<void>> = [];
  const t: ApplianceTest = {
    dir,
    logs,
    stop: new AbortController(),
    onHealth: (h) => t.health = h,
    defer: (cleanup) => cleanups.push(cleanup),
    async notifyReceiver() {
      const rx = await startNotifyReceiver(`${dir}/notify.sock`);
      t.defer(() => rx.close());
      return rx;
    },
  };
  try {
    await fn(t);
  } finally {
    t.stop.abort();
    logs.restore();
    for (const cleanup of cleanups.reverse()) await cleanup();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A config with its data, audit log and health endpoint (ephemeral port) under `dir`, `raw` on
 * top (top-level keys replace the defaults whole); the test fails on any validation issue.
 */
export function applianceConfig(dir: string, raw: Record<string, unknown>): Config {
  const issues: unknown[] = [];
  const c = validate(
    configSpec,
    {
      dataDir: `${dir}/data`,
      auditLog: { path: `${dir}/log/audit.log` },
      health: { listen: "127.0.0.1:0" },
      ...raw,
    },
    "",
    issues as never,
  ) as Config;
  assert.deepEqual(issues, []);
  return c;
}

/** This process's environment plus what the stand-in k3s needs: deno on PATH, its state dir. */
export function fakeK3sEnv(
  stateDir: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...Deno.env.toObject(),
    PATH: pathWithDeno(),
    FAKE_K3S_STATE_DIR: stateDir,
    ...extra,
  };
}

export async function getHealth(
  h: HealthServer,
  path: string,
): Promise<{ status: number; body: string }> {
  const res = await fetch(`${h.url}${path}`);
  return { status: res.status, body: await res.text() };
}
