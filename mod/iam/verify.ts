/**
 * Decides whether a token is a valid IAM token and whose it is. The token's shape is checked
 * first (classify.ts) so that foreign tokens never reach a key fetch or IAM; JWTs are verified
 * with jose against the keys trusted for their issuer; opaque tokens go to IAM ValidateToken.
 */
import { errors, jwtVerify } from "jose";
import { classifyToken, type RejectReason } from "./classify.ts";
import { checkIdentity, ClaimError, type Identity, identityFromClaims } from "./identity.ts";
import type { KeySet } from "./keys.ts";
import type { RemoteJwks } from "./jwks.ts";

export type Reason =
  | RejectReason
  | "ok"
  | "unknown_kid"
  | "keys_unavailable"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "issued_in_future"
  | "invalid_claims"
  | "bad_audience"
  | "opaque_disabled"
  | "iam_rejected"
  | "iam_unavailable";

export type Verdict =
  | {
    ok: true;
    identity: Identity;
    /** The token's `aud`, for the per-review audience decision. */
    audiences: string[];
    /** The audiences that mean "this cluster" for the token's issuer (empty: not checked). */
    clusterAudiences: string[];
    /** Unix seconds; a cached answer never outlives it. */
    exp?: number;
    via: "jwt" | "iam";
  }
  | {
    ok: false;
    reason: Exclude<Reason, "ok">;
    error: string;
    /** Whether the same token would be rejected again (so the answer may be cached). */
    stable: boolean;
    /** Unix seconds from which a cached rejection must not be reused (nbf less the leeway). */
    until?: number;
  };

/** Keys trusted for one issuer: static keys (PEM/JWK files, the embedded issuer), an HS256 secret, a JWKS. */
export interface IssuerTrust {
  issuer: string;
  /** Algorithms this issuer may use (default: all of VerifierOptions.algorithms). */
  algorithms?: string[];
  /** `aud` values that mean "this cluster" for this issuer (empty or absent: not checked). */
  audiences?: string[];
  staticKeys?: KeySet;
  secret?: KeySet;
  jwks?: RemoteJwks;
}

/** What IAM ValidateToken answered, in the webhook's terms. Throws when IAM cannot be reached. */
export interface OpaqueAnswer {
  valid: boolean;
  reason: string;
  identity?: Identity;
  audiences: string[];
  expiresAt: number;
}
export type OpaqueValidator = (token: string) => Promise<OpaqueAnswer>;

export interface VerifierOptions {
  trusts: IssuerTrust[];
  algorithms: string[];
  leewaySeconds: number;
  maxTokenBytes: number;
  opaquePrefixes: string[];
  /** `aud` values that mean "this cluster" for opaque tokens (empty: not checked). */
  opaqueAudiences?: string[];
  /** Absent: opaque tokens are rejected ("opaque_disabled"). */
  opaque?: OpaqueValidator;
  now?: () => number;
}

const STABLE = true;

export class TokenVerifier {
  private readonly trusts: Map<string, IssuerTrust>;
  private readonly algorithms: Set<string>;

  constructor(private readonly opts: VerifierOptions) {
    this.trusts = new Map(opts.trusts.map((t) => [t.issuer, t]));
    const all = [...opts.algorithms, ...opts.trusts.flatMap((t) => t.algorithms ?? [])];
    this.algorithms = new Set(all.filter((a) => a.toLowerCase() !== "none"));
  }

  get issuers(): string[] {
    return [...this.trusts.keys()];
  }

  private nowMs(): number {
    return (this.opts.now ?? Date.now)();
  }

  async verify(token: string): Promise<Verdict> {
    const shape = classifyToken(token, {
      maxTokenBytes: this.opts.maxTokenBytes,
      issuers: new Set(this.trusts.keys()),
      algorithms: this.algorithms,
      opaquePrefixes: this.opts.opaquePrefixes,
    });
    if (shape.kind === "rejected") {
      return { ok: false, reason: shape.reason, error: shape.error, stable: STABLE };
    }
    if (shape.kind === "opaque") return await this.verifyOpaque(token);
    return await this.verifyJwt(token, shape.header, shape.payload);
  }

  private async verifyOpaque(token: string): Promise<Verdict> {
    if (!this.opts.opaque) {
      return fail(
        "opaque_disabled",
        "opaque tokens are not accepted (no IAM ValidateToken configured)",
      );
    }
    let a: OpaqueAnswer;
    try {
      a = await this.opts.opaque(token);
    } catch (err) {
      return {
        ok: false,
        reason: "iam_unavailable",
        error: `IAM ValidateToken failed: ${(err as Error).message ?? err}`.slice(0, 300),
        stable: false,
      };
    }
    if (!a.valid || !a.identity) {
      const why = (a.reason || "token not valid").replace(/[^\x20-\x7e]/g, "").slice(0, 200);
      return fail("iam_rejected", `IAM: ${why}`);
    }
    if (a.expiresAt && a.expiresAt * 1000 <= this.nowMs()) {
      return fail("expired", "token has expired");
    }
    try {
      const identity = checkIdentity(a.identity);
      return {
        ok: true,
        identity,
        audiences: a.audiences,
        clusterAudiences: this.opts.opaqueAudiences ?? [],
        exp: a.expiresAt || undefined,
        via: "iam",
      };
    } catch (err) {
      return fail("invalid_claims", `IAM answer: ${(err as Error).message}`);
    }
  }

  private async verifyJwt(
    token: string,
    header: Record<string, unknown>,
    payload: Record<string, unknown>,
  ): Promise<Verdict> {
    const trust = this.trusts.get(payload.iss as string)!;
    const alg = header.alg as string;
    if (trust.algorithms && !trust.algorithms.includes(alg)) {
      return fail("alg_not_allowed", `token algorithm ${JSON.stringify(alg)} is not accepted`);
    }
    const kid = typeof header.kid === "string" ? header.kid : undefined;
    const candidates = await this.candidates(trust, alg, kid);
    if (candidates.length === 0) {
      if (trust.jwks && !trust.jwks.current) {
        return {
          ok: false,
          reason: "keys_unavailable",
          error: `signing keys for this issuer are not available yet (${
            trust.jwks.lastError || "not fetched"
          })`,
          stable: false,
        };
      }
      const why = kid !== undefined
        ? `no key with kid ${JSON.stringify(kid).slice(0, 80)}`
        : "no key";
      return {
        ok: false,
        reason: "unknown_kid",
        error: `${why} for algorithm ${alg}`,
        stable: false,
      };
    }
    const leeway = this.opts.leewaySeconds;
    const currentDate = new Date(this.nowMs());
    let last: unknown;
    for (const keyPromise of candidates) {
      let key;
      try {
        key = await keyPromise;
      } catch (err) {
        last = err;
        continue;
      }
      try {
        const { payload: claims } = await jwtVerify(token, key, {
          issuer: trust.issuer,
          algorithms: [alg],
          clockTolerance: leeway,
          currentDate,
          requiredClaims: ["exp", "sub", "iss"],
        });
        return this.accept(claims as Record<string, unknown>, currentDate, trust);
      } catch (err) {
        last = err;
        if (!(err instanceof errors.JWSSignatureVerificationFailed)) break;
      }
    }
    return fromJoseError(last, payload, leeway);
  }

  private async candidates(trust: IssuerTrust, alg: string, kid: string | undefined) {
    if (alg === "HS256") return trust.secret?.candidates(alg, kid) ?? [];
    const fixed = trust.staticKeys?.candidates(alg, kid) ?? [];
    // A static key named by the token's kid settles it; kid-less static keys (PEM files) are
    // tried alongside the JWKS.
    if (!trust.jwks || (kid !== undefined && trust.staticKeys?.hasKid(kid))) return fixed;
    return [...fixed, ...await trust.jwks.resolve(alg, kid)];
  }

  private accept(claims: Record<string, unknown>, now: Date, trust: IssuerTrust): Verdict {
    const nowSec = Math.floor(now.getTime() / 1000);
    if (typeof claims.iat === "number" && claims.iat > nowSec + this.opts.leewaySeconds) {
      return fail("issued_in_future", "token is issued in the future (iat)");
    }
    try {
      const identity = identityFromClaims(claims);
      const aud = claims.aud;
      const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud as string[] : [];
      return {
        ok: true,
        identity,
        audiences,
        clusterAudiences: trust.audiences ?? [],
        exp: claims.exp as number,
        via: "jwt",
      };
    } catch (err) {
      if (err instanceof ClaimError) return fail("invalid_claims", err.message);
      throw err;
    }
  }
}

function fail(reason: Exclude<Reason, "ok">, error: string, until?: number): Verdict {
  return { ok: false, reason, error, stable: true, until };
}

function fromJoseError(err: unknown, payload: Record<string, unknown>, leeway: number): Verdict {
  if (err instanceof errors.JWTExpired) return fail("expired", "token has expired");
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "nbf") {
      const validFrom = typeof payload.nbf === "number" ? payload.nbf - leeway : undefined;
      return fail("not_yet_valid", "token is not valid yet (nbf)", validFrom);
    }
    if (err.reason === "missing") return fail("invalid_claims", `missing claim "${err.claim}"`);
    return fail("invalid_claims", `invalid claim "${err.claim}"`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return fail("bad_signature", "token signature is not valid");
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return fail("alg_not_allowed", "token algorithm is not accepted");
  }
  if (err instanceof errors.JOSEError) {
    return fail("malformed_jwt", "token is not a well-formed JWT");
  }
  return fail("bad_signature", "token could not be verified with any trusted key");
}
