/**
 * V8 flags of every k8shost process: baked into the compiled binary (deno.json `compile`) and
 * passed by the source-tree launcher (scripts/k8shost); a test keeps the three in step.
 *
 * A young generation capped at 2 MiB keeps each scavenge short, at the cost of more frequent
 * ones. Measured on an HTTPS server under 11,000 requests/s on one core (--trace-gc): longest
 * scavenge 17.5 ms with V8's default cap, 1.8 ms with this one. The webhook answers
 * kube-apiserver on every request, so its tail latency is worth more than the last few percent
 * of throughput (bench/webhook_load.ts shows no throughput loss).
 */
export const V8_FLAGS = ["--max-semi-space-size=2"];
