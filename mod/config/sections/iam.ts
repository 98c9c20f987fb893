import { bool, duration, int, list, obj, path, str } from "../schema.ts";
import { serviceClientFields } from "./common.ts";

export const iamSection = obj("IAM: the TokenReview webhook and token validation.", {
  enable: bool("Serve the IAM TokenReview webhook and wire k3s to it.", true),
  ...serviceClientFields("IAM", "iam-server:3000"),
  webhook: obj("The HTTPS TokenReview endpoint kube-apiserver calls.", {
    listen: str("host:port the webhook listens on.", {
      default: "127.0.0.1:8443",
      pattern: /^[^\s]+:\d{1,5}$/,
      patternDoc: "host:port such as 127.0.0.1:8443",
    }),
    certFile: path("Serving certificate (PEM). Empty: generate a CA and certificate in dataDir."),
    keyFile: path("Serving key (PEM).", "", { secret: true }),
    clientCAFile: path("CA that signs the apiserver's client certificate (enables mTLS)."),
    requireClientCert: bool("Reject connections without a client certificate.", true),
    tls: bool("Serve HTTPS (turning this off is for debugging only).", true),
    cacheTTL: duration("kube-apiserver's own cache of webhook answers.", "2m"),
  }),
  jwt: obj("Local JWT validation.", {
    issuer: str("Expected `iss` claim.", { default: "https://iam.plasmacloud.io" }),
    audiences: list("Accepted `aud` values (empty: audience not checked).", str("audience")),
    jwksUrl: str("JWKS URL of the IAM service.", { default: "" }),
    publicKeyFiles: list("Static public keys (PEM or JWK files).", path("key file")),
    hs256SecretFile: path("HS256 shared secret file.", "", { secret: true }),
    algorithms: list("Accepted JWS algorithms.", str("alg", {
      oneOf: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256"],
    }), ["RS256", "ES256", "EdDSA"]),
    leeway: duration("Clock skew allowed on exp/nbf/iat.", "30s"),
    maxTokenBytes: int("Largest token accepted.", { default: 8192, min: 256 }),
  }),
  cache: obj("Review result cache.", {
    size: int("Entries.", { default: 10000, min: 0 }),
    positiveTTL: duration("TTL of an authenticated result (never beyond the token's exp).", "2m"),
    negativeTTL: duration("TTL of a rejection.", "10s"),
  }),
});
