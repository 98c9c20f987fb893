/** Health endpoint (/healthz, /readyz, /metrics) and systemd readiness notification. */
export {
  type HealthCheck,
  type HealthServer,
  parseListen,
  readinessReport,
  startHealthServer,
} from "./server.ts";
export { sdNotify } from "./notify.ts";
export { SystemdNotifier } from "./systemd.ts";
