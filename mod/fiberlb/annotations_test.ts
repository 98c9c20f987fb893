import assert from "node:assert/strict";
import type { KubeObject } from "../kube/api.ts";
import {
  ANNOTATIONS,
  formatAnnotationError,
  HEALTH_DEFAULTS,
  parseGoDuration,
  parseLbOptions,
} from "./annotations.ts";

const svc = (
  annotations: Record<string, string> = {},
  spec: Record<string, unknown> = {},
): KubeObject => ({
  metadata: { name: "s", namespace: "n", annotations },
  spec: { type: "LoadBalancer", ...spec },
});

Deno.test("defaults: round-robin, TCP checks 10s/5s/3, no affinity, no sharing", () => {
  const { options, errors } = parseLbOptions(svc());
  assert.deepEqual(errors, []);
  assert.deepEqual(options, {
    algorithm: "round-robin",
    healthCheck: { ...HEALTH_DEFAULTS },
    sessionAffinity: "none",
    affinityTimeoutSeconds: 10_800,
    sharingKey: "",
  });
});

Deno.test("every annotation of the spec, valid", () => {
  const { options, errors } = parseLbOptions(svc({
    [ANNOTATIONS.algorithm]: "ip-hash",
    [ANNOTATIONS.healthCheckPath]: "/health?x=1",
    [ANNOTATIONS.healthCheckInterval]: "1m30s",
    [ANNOTATIONS.healthCheckTimeout]: "500ms",
    [ANNOTATIONS.healthCheckRetries]: "5",
    [ANNOTATIONS.sessionAffinity]: "client-ip",
    [ANNOTATIONS.ipPool]: "blue",
    [ANNOTATIONS.requestedIp]: "2001:DB8::0:7",
    [ANNOTATIONS.allowSharedIp]: "team.web-1",
    [ANNOTATIONS.loadBalancerId]: "lb-0123456789abcdef",
    [ANNOTATIONS.allocatedIp]: "2001:db8::7",
  }, { sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }));
  assert.deepEqual(errors, []);
  assert.deepEqual(options, {
    algorithm: "ip-hash",
    healthCheck: { path: "/health?x=1", intervalMs: 90_000, timeoutMs: 500, retries: 5 },
    sessionAffinity: "client-ip",
    affinityTimeoutSeconds: 60,
    pool: "blue",
    requestedIp: "2001:db8::7",
    sharingKey: "team.web-1",
    loadBalancerId: "lb-0123456789abcdef",
    allocatedIp: "2001:db8::7",
  });
});

Deno.test("spec fields: sessionAffinity ClientIP and loadBalancerIP", () => {
  const { options } = parseLbOptions(
    svc({}, { sessionAffinity: "ClientIP", loadBalancerIP: "192.0.2.5" }),
  );
  assert.equal(options.sessionAffinity, "client-ip");
  assert.equal(options.requestedIp, "192.0.2.5");
  const same = parseLbOptions(
    svc({ [ANNOTATIONS.requestedIp]: "192.0.2.5" }, { loadBalancerIP: "192.0.2.5" }),
  );
  assert.deepEqual(same.errors, []);
  const affinityOff = parseLbOptions(
    svc({ [ANNOTATIONS.sessionAffinity]: "none" }, { sessionAffinity: "ClientIP" }),
  );
  assert.equal(affinityOff.options.sessionAffinity, "none", "the annotation wins");
});

Deno.test("every invalid value is reported at once, naming key, value and expectation", () => {
  const { errors } = parseLbOptions(svc({
    [ANNOTATIONS.algorithm]: "random",
    [ANNOTATIONS.healthCheckPath]: "health",
    [ANNOTATIONS.healthCheckInterval]: "10",
    [ANNOTATIONS.healthCheckTimeout]: "20m",
    [ANNOTATIONS.healthCheckRetries]: "0",
    [ANNOTATIONS.sessionAffinity]: "cookie",
    [ANNOTATIONS.ipPool]: "Blue Pool",
    [ANNOTATIONS.requestedIp]: "192.0.2.300",
    [ANNOTATIONS.allowSharedIp]: "-bad-",
  }, { loadBalancerIP: "nope" }));
  assert.deepEqual(errors.map(formatAnnotationError), [
    'fiberlb.plasmacloud.io/algorithm: "random" — expected one of round-robin, least-conn, ip-hash',
    'fiberlb.plasmacloud.io/health-check-path: "health" — expected an HTTP path starting with "/" without spaces',
    'fiberlb.plasmacloud.io/health-check-interval: "10" — expected a duration from 100ms to 300s such as "10s" or "500ms"',
    'fiberlb.plasmacloud.io/health-check-timeout: "20m" — expected a duration from 50ms to 60s such as "10s" or "500ms"',
    'fiberlb.plasmacloud.io/health-check-retries: "0" — expected an integer from 1 to 10',
    'fiberlb.plasmacloud.io/session-affinity: "cookie" — expected one of none, client-ip',
    'fiberlb.plasmacloud.io/ip-pool: "Blue Pool" — expected a pool name (lower-case letters, digits and -)',
    'fiberlb.plasmacloud.io/requested-ip: "192.0.2.300" — expected an IPv4 or IPv6 address',
    'spec.loadBalancerIP: "nope" — expected an IPv4 or IPv6 address',
    "fiberlb.plasmacloud.io/allow-shared-ip: \"-bad-\" — expected a sharing key of 1-63 letters, digits, '.', '_' or '-'",
  ]);
});

Deno.test("timeout longer than the interval: an error when both set, clamped when defaulted", () => {
  const both = parseLbOptions(
    svc({ [ANNOTATIONS.healthCheckInterval]: "2s", [ANNOTATIONS.healthCheckTimeout]: "3s" }),
  );
  assert.deepEqual(both.errors.map((e) => e.expected), ["at most the interval (2000ms)"]);
  const clamped = parseLbOptions(svc({ [ANNOTATIONS.healthCheckInterval]: "1s" }));
  assert.deepEqual(clamped.errors, []);
  assert.equal(clamped.options.healthCheck.timeoutMs, 1000);
});

Deno.test("requested IP conflicts with spec.loadBalancerIP; damaged controller records are ignored", () => {
  const { errors } = parseLbOptions(
    svc({ [ANNOTATIONS.requestedIp]: "192.0.2.1" }, { loadBalancerIP: "192.0.2.2" }),
  );
  assert.match(
    formatAnnotationError(errors[0]),
    /requested-ip: "192\.0\.2\.1" — expected the same address as spec\.loadBalancerIP/,
  );
  const damaged = parseLbOptions(
    svc({ [ANNOTATIONS.allocatedIp]: "garbage", [ANNOTATIONS.loadBalancerId]: "bad id!" }),
  );
  assert.deepEqual(damaged.errors, []);
  assert.equal(damaged.options.allocatedIp, undefined);
  assert.equal(damaged.options.loadBalancerId, undefined);
});

Deno.test("parseGoDuration", () => {
  assert.equal(parseGoDuration("10s"), 10_000);
  assert.equal(parseGoDuration("1h2m3s4ms"), 3_723_004);
  assert.equal(parseGoDuration("1.5s"), 1500);
  for (const bad of ["", "10", "s", "-1s", "1d", "1 s"]) {
    assert.equal(parseGoDuration(bad), undefined, bad);
  }
});
