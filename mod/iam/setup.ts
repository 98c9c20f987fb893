/**
 * From config to a TokenVerifier: which issuers are trusted with which keys (static key files,
 * HS256 secret, JWKS URL, the embedded issuer) and where opaque tokens go.
 */
import type { JWK } from "jose";
import type { Config } from "../config/spec.ts";
import type { Logger } from "../log/mod.ts";
import type { Counter } from "../metrics/mod.ts";
import { readConfigured } from "./files.ts";
import type { IamClient } from "./iam_client.ts";
import { type Issuer, issuerKeySet } from "./issuer.ts";
import { RemoteJwks } from "./jwks.ts";
import { KeySet, parseKeyFile, secretJwk } from "./keys.ts";
import { type IssuerTrust, type OpaqueValidator, TokenVerifier } from "./verify.ts";

export interface VerifierDeps {
  log: Logger;
  /** The embedded issuer, when iam.issuer.enable. */
  issuer?: Issuer;
  /** Where opaque tokens go, when iam.opaque.enable. */
  iam?: IamClient;
  jwksRefreshes?: Counter;
  iamCalls?: Counter;
  now?: () => number;
}

export interface BuiltVerifier {
  verifier: TokenVerifier;
  /** Starts background work (JWKS prefetch and refresh). */
  start(): Promise<void>;
  stop(): void;
  jwks?: RemoteJwks;
}

export async function buildVerifier(config: Config, deps: VerifierDeps): Promise<BuiltVerifier> {
  const j = config.iam.jwt;
  const trusts = new Map<string, IssuerTrust>();
  const trustFor = (issuer: string) => {
    let t = trusts.get(issuer);
    if (!t) trusts.set(issuer, t = { issuer, algorithms: j.algorithms, audiences: j.audiences });
    return t;
  };

  const staticJwks: JWK[] = [];
  for (const [i, file] of j.publicKeyFiles.entries()) {
    const text = await readConfigured(file, `iam.jwt.publicKeyFiles[${i}]`);
    staticJwks.push(...parseKeyFile(text, `iam.jwt.publicKeyFiles[${i}] (${file})`));
  }
  if (staticJwks.length) trustFor(j.issuer).staticKeys = new KeySet(staticJwks);

  if (j.hs256SecretFile !== "") {
    if (!j.algorithms.includes("HS256")) {
      throw new Error("iam.jwt.hs256SecretFile is set but HS256 is not in iam.jwt.algorithms");
    }
    const secret = await readConfigured(j.hs256SecretFile, "iam.jwt.hs256SecretFile");
    trustFor(j.issuer).secret = new KeySet([secretJwk(secret, "iam.jwt.hs256SecretFile")]);
  }

  let jwks: RemoteJwks | undefined;
  if (j.jwksUrl !== "") {
    const caPem = j.jwksCAFile
      ? await readConfigured(j.jwksCAFile, "iam.jwt.jwksCAFile")
      : undefined;
    jwks = new RemoteJwks({
      url: j.jwksUrl,
      caPem,
      timeoutMs: j.jwksTimeout,
      refreshIntervalMs: j.jwksRefreshInterval,
      cooldownMs: j.jwksRefetchCooldown,
      log: deps.log.child("jwks"),
      refreshes: deps.jwksRefreshes,
      now: deps.now,
    });
    trustFor(j.issuer).jwks = jwks;
  }

  if (deps.issuer) {
    const own = trustFor(deps.issuer.name);
    if (own.staticKeys || own.jwks || own.secret) {
      throw new Error(
        `iam.issuer.name ${JSON.stringify(deps.issuer.name)} must differ from iam.jwt.issuer`,
      );
    }
    own.staticKeys = issuerKeySet(deps.issuer);
    // The embedded issuer signs ES256 whatever iam.jwt.algorithms says about the IAM service.
    own.algorithms = ["ES256"];
    own.audiences = [deps.issuer.audience];
  }

  let opaque: OpaqueValidator | undefined;
  if (config.iam.opaque.enable && deps.iam) {
    const client = deps.iam;
    opaque = async (token) => {
      try {
        const a = await client.validateToken(token);
        deps.iamCalls?.inc({ result: a.valid ? "valid" : "invalid" });
        return a;
      } catch (err) {
        deps.iamCalls?.inc({ result: "error" });
        throw err;
      }
    };
  }

  const verifier = new TokenVerifier({
    trusts: [...trusts.values()],
    algorithms: j.algorithms,
    leewaySeconds: Math.round(j.leeway / 1000),
    maxTokenBytes: j.maxTokenBytes,
    opaquePrefixes: config.iam.opaque.prefixes,
    // The embedded IAM mints opaque tokens for iam.issuer.audience by default.
    opaqueAudiences: j.audiences.length && config.iam.endpoint === ""
      ? [...j.audiences, config.iam.issuer.audience]
      : j.audiences,
    opaque,
    now: deps.now,
  });
  return {
    verifier,
    jwks,
    start: async () => {
      await jwks?.start();
    },
    stop: () => jwks?.stop(),
  };
}
