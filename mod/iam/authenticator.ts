/**
 * One TokenReview answered: the cached verdict for the token (or a fresh one, shared with any
 * concurrent review of the same token), then the audience decision for this review.
 * Tokens are only ever held as their SHA-256 here; the cache stores verdicts, not tokens.
 */
import { createHash } from "node:crypto";
import { TtlLru } from "./cache.ts";
import { userInfoFor } from "./identity.ts";
import { decideAudiences, type ReviewAnswer, type ReviewRequest } from "./review.ts";
import type { Reason, TokenVerifier, Verdict } from "./verify.ts";

export interface AuthenticatorOptions {
  cacheSize: number;
  positiveTtlMs: number;
  negativeTtlMs: number;
  now?: () => number;
}

export interface ReviewOutcome {
  answer: ReviewAnswer;
  reason: Reason;
  cached: boolean;
  /** sha256 of the token, the first 6 bytes in hex: same value as fingerprint() in mod/log. */
  fingerprint: string;
}

/** SHA-256 of the token; the cache key and (first 12 hex digits) the log fingerprint. */
export function tokenDigest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export class Authenticator {
  readonly cache: TtlLru<Verdict>;
  private inflight = new Map<string, Promise<Verdict>>();

  constructor(readonly verifier: TokenVerifier, private readonly opts: AuthenticatorOptions) {
    this.cache = new TtlLru<Verdict>(opts.cacheSize, opts.now);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  async review(req: ReviewRequest): Promise<ReviewOutcome> {
    const digest = tokenDigest(req.token);
    const fingerprint = `sha256:${digest.slice(0, 12)}`;
    let verdict = this.cache.get(digest);
    const cached = verdict !== undefined;
    if (!verdict) verdict = await this.verifyShared(digest, req.token);
    if (!verdict.ok) {
      return {
        answer: { authenticated: false, error: verdict.error },
        reason: verdict.reason,
        cached,
        fingerprint,
      };
    }
    const aud = decideAudiences(verdict.audiences, req.audiences, verdict.clusterAudiences);
    if (!aud.ok) {
      return {
        answer: { authenticated: false, error: aud.error },
        reason: "bad_audience",
        cached,
        fingerprint,
      };
    }
    return {
      answer: {
        authenticated: true,
        user: userInfoFor(verdict.identity),
        audiences: aud.audiences,
      },
      reason: "ok",
      cached,
      fingerprint,
    };
  }

  private verifyShared(digest: string, token: string): Promise<Verdict> {
    let p = this.inflight.get(digest);
    if (!p) {
      p = this.verifier.verify(token).then((v) => {
        this.remember(digest, v);
        return v;
      }).finally(() => this.inflight.delete(digest));
      this.inflight.set(digest, p);
    }
    return p;
  }

  /** Positive answers live at most positiveTTL and never past `exp`; stable rejections negativeTTL. */
  private remember(digest: string, v: Verdict) {
    const now = this.now();
    if (v.ok) {
      let until = now + this.opts.positiveTtlMs;
      if (v.exp !== undefined) until = Math.min(until, v.exp * 1000);
      this.cache.set(digest, v, until);
    } else if (v.stable) {
      let until = now + this.opts.negativeTtlMs;
      if (v.until !== undefined) until = Math.min(until, v.until * 1000);
      this.cache.set(digest, v, until);
    }
  }
}
