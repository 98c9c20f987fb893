/** The webhook's metric families, registered once in the part's Registry. */
import type { Counter, Histogram, Registry } from "../metrics/mod.ts";
import type { TtlLru } from "./cache.ts";

export interface WebhookMetrics {
  requests: Counter;
  duration: Histogram;
  cacheLookups: Counter;
  jwksRefreshes: Counter;
  iamCalls: Counter;
}

export function webhookMetrics(r: Registry): WebhookMetrics {
  return {
    requests: r.counter(
      "k8shost_iam_webhook_requests_total",
      "TokenReview requests by HTTP code, result (authenticated, unauthenticated, bad_request, error) and reason.",
    ),
    duration: r.histogram(
      "k8shost_iam_webhook_request_duration_seconds",
      "Time to answer one TokenReview request, by result.",
      [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 10],
    ),
    cacheLookups: r.counter(
      "k8shost_iam_webhook_cache_lookups_total",
      "Review cache lookups by result (hit, miss).",
    ),
    jwksRefreshes: r.counter(
      "k8shost_iam_jwks_refreshes_total",
      "JWKS fetches by result (ok, error) and trigger (start, interval, unknown_kid, no_keys).",
    ),
    iamCalls: r.counter(
      "k8shost_iam_validate_token_calls_total",
      "IAM ValidateToken calls for opaque tokens by result (valid, invalid, error).",
    ),
  };
}

/** Gauges read at scrape time from the cache itself. */
export function collectCacheGauges(r: Registry, cache: TtlLru<unknown>) {
  r.gauge("k8shost_iam_webhook_cache_entries", "Entries in the review cache.")
    .collect({}, () => cache.size);
  r.gauge("k8shost_iam_webhook_cache_hit_ratio", "Review cache hits / lookups since start.")
    .collect({}, () => cache.hitRatio());
}
