/**
 * The embedded IAM service: the `plasmacloud.iam.v1.IamService` contract served by k8shost
 * itself when no IAM endpoint is configured. It validates the embedded issuer's JWTs and the
 * opaque tokens it issued (token_store.ts), so one host has working IAM out of the box.
 */
import type * as grpcTypes from "@grpc/grpc-js";
import {
  bearerToken,
  GrpcError,
  type RunningServer,
  serviceClient,
  startServer,
  Status,
  unaryHandlers,
} from "../grpc/mod.ts";
import {
  checkIdentity,
  ClaimError,
  type Identity,
  isOrgAdmin,
  type PrincipalKind,
} from "./identity.ts";
import { type Issuer, issuerJwks, issuerKeySet, mintToken } from "./issuer.ts";
import { OPAQUE_PREFIX, type OpaqueTokenStore } from "./token_store.ts";
import { TokenVerifier } from "./verify.ts";

export const IAM_PROTO = "iam.proto";
export const IAM_SERVICE = "plasmacloud.iam.v1.IamService";

export const KIND_TO_PROTO: Record<PrincipalKind, string> = {
  user: "PRINCIPAL_KIND_USER",
  service_account: "PRINCIPAL_KIND_SERVICE_ACCOUNT",
};

export interface EmbeddedIamOptions {
  issuer: Issuer;
  store: OpaqueTokenStore;
  leewaySeconds: number;
  maxTtlSeconds: number;
  /** Unix-socket servers leave authorisation to the socket's file mode (root only). */
  trustLocalCallers: boolean;
}

interface Answer {
  valid: boolean;
  reason: string;
  identity?: Identity;
  audiences: string[];
  expiresAt: number;
  tokenId: string;
}

export class EmbeddedIam {
  private readonly jwt: TokenVerifier;

  constructor(private readonly o: EmbeddedIamOptions) {
    this.jwt = new TokenVerifier({
      trusts: [{ issuer: o.issuer.name, staticKeys: issuerKeySet(o.issuer) }],
      algorithms: ["ES256"],
      leewaySeconds: o.leewaySeconds,
      maxTokenBytes: 16384,
      opaquePrefixes: [],
    });
  }

  async validate(token: string, audiences: string[] = []): Promise<Answer> {
    const no = (reason: string): Answer => ({
      valid: false,
      reason,
      audiences: [],
      expiresAt: 0,
      tokenId: "",
    });
    let a: Answer;
    if (token.startsWith(OPAQUE_PREFIX)) {
      const t = this.o.store.lookup(token);
      if (!t) return no("unknown token");
      if (t.revoked) return no("token revoked");
      if (t.expiresAt <= Math.floor(Date.now() / 1000)) return no("token expired");
      a = {
        valid: true,
        reason: "",
        identity: t.identity,
        audiences: t.audiences,
        expiresAt: t.expiresAt,
        tokenId: t.id,
      };
    } else {
      const v = await this.jwt.verify(token);
      if (!v.ok) return no(v.error);
      a = {
        valid: true,
        reason: "",
        identity: v.identity,
        audiences: v.audiences,
        expiresAt: v.exp ?? 0,
        tokenId: "",
      };
    }
    if (audiences.length && !audiences.some((x) => a.audiences.includes(x))) {
      return no("token is not valid for the requested audiences");
    }
    return a;
  }

  /** Issue/Revoke need an org admin of the org concerned, unless callers are trusted locally. */
  private async authorize(call: grpcTypes.ServerUnaryCall<unknown, unknown>, orgId: string) {
    if (this.o.trustLocalCallers) return;
    const token = bearerToken(call.metadata);
    if (!token) throw new GrpcError(Status.UNAUTHENTICATED, "a bearer token is required");
    const who = await this.validate(token);
    if (!who.valid || !who.identity) {
      throw new GrpcError(Status.UNAUTHENTICATED, `caller token: ${who.reason}`);
    }
    if (
      !isOrgAdmin(who.identity) || (orgId !== "" && who.identity.orgId !== orgId)
    ) {
      throw new GrpcError(
        Status.PERMISSION_DENIED,
        `only an org admin of ${orgId || "the org"} may do this`,
      );
    }
  }

  handlers() {
    return unaryHandlers({
      ValidateToken: async (req) => {
        if (typeof req.token !== "string" || req.token === "") {
          throw new GrpcError(Status.INVALID_ARGUMENT, "token is required");
        }
        return toProto(await this.validate(req.token, req.audiences ?? []));
      },
      IssueToken: async (req, call) => {
        const identity = identityFromProto(req);
        await this.authorize(call, identity.orgId);
        const ttl = Number(req.ttl_seconds);
        if (!Number.isInteger(ttl) || ttl < 1 || ttl > this.o.maxTtlSeconds) {
          throw new GrpcError(
            Status.INVALID_ARGUMENT,
            `ttl_seconds must be 1..${this.o.maxTtlSeconds}`,
          );
        }
        const auds: string[] = req.audiences ?? [];
        if (req.format === "TOKEN_FORMAT_OPAQUE") {
          const t = await this.o.store.issue(
            identity,
            ttl,
            auds.length ? auds : [this.o.issuer.audience],
          );
          return { token: t.token, token_id: t.id, expires_at: t.expiresAt };
        }
        const t = await mintToken(this.o.issuer, { identity, ttlSeconds: ttl, audiences: auds });
        return { token: t.token, token_id: t.jti, expires_at: t.exp };
      },
      RevokeToken: async (req, call) => {
        const id = String(req.token_id ?? "");
        if (!/^[0-9a-f]{16}$/.test(id)) {
          throw new GrpcError(Status.INVALID_ARGUMENT, "token_id is not a token id");
        }
        // An unknown id still needs an authorised caller, so ids cannot be probed.
        await this.authorize(call, this.o.store.byTokenId(id)?.identity.orgId ?? "");
        return { revoked: await this.o.store.revoke(id) };
      },
      GetJwks: () => Promise.resolve({ jwks_json: JSON.stringify(issuerJwks(this.o.issuer)) }),
    });
  }
}

function identityFromProto(req: Record<string, unknown>): Identity {
  const t = (req.tenant ?? {}) as Record<string, string>;
  const kind = req.principal_kind === "PRINCIPAL_KIND_SERVICE_ACCOUNT" ? "service_account" : "user";
  try {
    return checkIdentity({
      kind,
      principalId: t.principal_id ?? "",
      principalName: t.principal_name ?? "",
      email: String(req.email ?? ""),
      orgId: t.org_id ?? "",
      projectId: t.project_id ?? "",
      roles: (req.roles as string[]) ?? [],
    });
  } catch (err) {
    if (err instanceof ClaimError) throw new GrpcError(Status.INVALID_ARGUMENT, err.message);
    throw err;
  }
}

function toProto(a: Answer) {
  const id = a.identity;
  return {
    valid: a.valid,
    reason: a.reason,
    tenant: id
      ? {
        org_id: id.orgId,
        project_id: id.projectId,
        principal_id: id.principalId,
        principal_name: id.principalName,
      }
      : undefined,
    principal_kind: id ? KIND_TO_PROTO[id.kind] : "PRINCIPAL_KIND_UNSPECIFIED",
    email: id?.email ?? "",
    roles: id?.roles ?? [],
    expires_at: a.expiresAt,
    audiences: a.audiences,
    token_id: a.tokenId,
  };
}

/** Serves the embedded IAM on `address` (`unix:///path` or `host:port`). */
export async function startEmbeddedIam(address: string, iam: EmbeddedIam): Promise<RunningServer> {
  const ctor = serviceClient(IAM_PROTO, IAM_SERVICE);
  return await startServer(address, [[ctor.service, iam.handlers()]]);
}
