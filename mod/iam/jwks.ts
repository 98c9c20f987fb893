/**
 * The IAM service's JWKS, fetched at start, refreshed in the background, and refetched when a
 * token names a `kid` we do not know (at most once per cooldown, so a flood of forged kids
 * cannot turn into a flood of fetches). A failed refresh keeps the last good keys.
 */
import type { Logger } from "../log/mod.ts";
import type { Counter } from "../metrics/mod.ts";
import { KeySet, parseJwks } from "./keys.ts";

export interface JwksOptions {
  url: string;
  caPem?: string;
  timeoutMs: number;
  refreshIntervalMs: number;
  cooldownMs: number;
  log: Logger;
  /** k8shost_iam_jwks_refreshes_total{result,trigger} */
  refreshes?: Counter;
  now?: () => number;
}

const MAX_JWKS_BYTES = 1 << 20;

/** https:// anywhere, http:// only to loopback (keys must not travel in the clear). */
export function checkJwksUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`iam.jwt.jwksUrl: ${JSON.stringify(url)} is not a URL`);
  }
  if (u.protocol === "https:") return;
  const loopback = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(u.hostname);
  if (u.protocol === "http:" && loopback) return;
  throw new Error(`iam.jwt.jwksUrl: ${url} must be https:// (http:// is allowed to loopback only)`);
}

export class RemoteJwks {
  private keys: KeySet | undefined;
  private inflight: Promise<void> | undefined;
  private lastAttempt = -Infinity;
  private timer: ReturnType<typeof setInterval> | undefined;
  private client: Deno.HttpClient | undefined;
  lastError = "";
  lastSuccess = 0;

  constructor(private readonly opts: JwksOptions) {
    checkJwksUrl(opts.url);
    if (opts.caPem) this.client = Deno.createHttpClient({ caCerts: [opts.caPem] });
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  get current(): KeySet | undefined {
    return this.keys;
  }

  /** Prefetches (a failure is logged, not thrown: the webhook answers "keys unavailable"). */
  async start(): Promise<void> {
    await this.refresh("start");
    this.timer = setInterval(() => {
      this.refresh("interval").catch(() => {});
    }, this.opts.refreshIntervalMs);
  }

  stop() {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.client?.close();
    this.client = undefined;
  }

  /** Candidates for a token; an unknown kid triggers one refetch if the cooldown allows. */
  async resolve(alg: string, kid: string | undefined) {
    let set = this.keys;
    const unknownKid = kid !== undefined && !set?.hasKid(kid);
    if (!set || unknownKid) {
      if (this.now() - this.lastAttempt >= this.opts.cooldownMs) {
        await this.refresh(set ? "unknown_kid" : "no_keys");
      } else if (this.inflight) {
        await this.inflight;
      }
      set = this.keys;
    }
    return set?.candidates(alg, kid) ?? [];
  }

  /** One fetch at a time; callers arriving meanwhile share it. */
  refresh(trigger: string): Promise<void> {
    if (!this.inflight) {
      this.lastAttempt = this.now();
      this.inflight = this.fetchOnce(trigger).finally(() => (this.inflight = undefined));
    }
    return this.inflight;
  }

  private async fetchOnce(trigger: string): Promise<void> {
    try {
      const res = await fetch(this.opts.url, {
        client: this.client,
        headers: { accept: "application/json, application/jwk-set+json" },
        signal: AbortSignal.timeout(this.opts.timeoutMs),
        redirect: "error",
      });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status}`);
      }
      const text = await res.text();
      if (text.length > MAX_JWKS_BYTES) throw new Error("JWKS document larger than 1 MiB");
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch {
        throw new Error("JWKS is not JSON");
      }
      const keys = parseJwks(doc);
      if (keys.length === 0) throw new Error("JWKS holds no usable signature keys");
      this.keys = new KeySet(keys);
      this.lastSuccess = this.now();
      this.lastError = "";
      this.opts.refreshes?.inc({ result: "ok", trigger });
      this.opts.log.debug("JWKS refreshed", { url: this.opts.url, keys: keys.length, trigger });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.lastError = msg;
      this.opts.refreshes?.inc({ result: "error", trigger });
      this.opts.log.warn("JWKS refresh failed; keeping the last good keys", {
        url: this.opts.url,
        trigger,
        error: msg,
        haveKeys: this.keys?.size ?? 0,
      });
    }
  }
}
