import { bool, duration, int, list, obj, path, str } from "../schema.ts";
import { serviceClientFields } from "./common.ts";

/** Every JWS algorithm the webhook can be told to accept; `none` is deliberately absent. */
export const JWS_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "HS256",
] as const;

export const iamSection = obj("IAM: the TokenReview webhook and token validation.", {
  enable: bool("Serve the IAM TokenReview webhook and wire k3s to it.", true),
  ...serviceClientFields("IAM", "iam-server:3000"),
  webhook: obj("The HTTPS TokenReview endpoint kube-apiserver calls.", {
    listen: str("host:port the webhook listens on.", {
      default: "127.0.0.1:8443",
      pattern: /^[^\s]+:\d{1,5}$/,
      patternDoc: "host:port such as 127.0.0.1:8443",
    }),
    url: str(
      "Webhook URL written into the apiserver's webhook kubeconfig. Empty: https://<listen>/apis/iam.plasmacloud.io/v1/authenticate (127.0.0.1 for a wildcard listen host).",
      {
        default: "",
        pattern: /^(|https?:\/\/[^\s]+)$/,
        patternDoc: "an https:// URL",
      },
    ),
    certFile: path("Serving certificate (PEM). Empty: generate a CA and certificate in dataDir."),
    keyFile: path("Serving key (PEM).", "", { secret: true }),
    caFile: path(
      "CA bundle that signed certFile, written into the webhook kubeconfig (empty: certFile itself).",
    ),
    hosts: list(
      "Extra DNS names / IPs for the generated serving certificate (loopback, the host name and the listen host are always in).",
      str("name or IP"),
    ),
    clientCAFile: path(
      "CA that signs the apiserver's client certificate. Empty: the generated CA, which also issues that client certificate.",
    ),
    apiserverCertFile: path(
      "Client certificate the apiserver presents (written into the webhook kubeconfig); required with clientCAFile.",
    ),
    apiserverKeyFile: path("Key of apiserverCertFile.", "", { secret: true }),
    requireClientCert: bool("Reject connections without a client certificate.", true),
    tls: bool("Serve HTTPS (turning this off is for debugging only).", true),
    cacheTTL: duration("kube-apiserver's own cache of webhook answers.", "2m"),
    maxBodyBytes: int("Largest TokenReview request body accepted.", {
      default: 65536,
      min: 1024,
    }),
    requestTimeout: duration("Time allowed to receive one request.", "10s", 100),
  }),
  jwt: obj("Local JWT validation.", {
    issuer: str("Expected `iss` claim.", { default: "https://iam.plasmacloud.io" }),
    audiences: list("Accepted `aud` values (empty: audience not checked).", str("audience")),
    jwksUrl: str("JWKS URL of the IAM service (https://, or http:// to loopback only).", {
      default: "",
      pattern: /^(|https?:\/\/[^\s]+)$/,
      patternDoc: "an https:// URL",
    }),
    jwksCAFile: path("PEM CA bundle for the JWKS URL's TLS certificate (empty: system roots)."),
    jwksRefreshInterval: duration("Background refresh of the JWKS.", "10m", 1000),
    jwksRefetchCooldown: duration(
      "Least time between two JWKS fetches triggered by an unknown `kid`.",
      "30s",
      0,
    ),
    jwksTimeout: duration("Deadline of one JWKS fetch.", "5s", 100),
    publicKeyFiles: list("Static public keys (PEM or JWK files).", path("key file")),
    hs256SecretFile: path("HS256 shared secret file.", "", { secret: true }),
    algorithms: list(
      "Accepted JWS algorithms.",
      str("alg", { oneOf: JWS_ALGORITHMS }),
      ["RS256", "ES256", "EdDSA"],
    ),
    leeway: duration("Clock skew allowed on exp/nbf/iat.", "30s"),
    maxTokenBytes: int("Largest token accepted.", { default: 8192, min: 256 }),
  }),
  opaque: obj("Tokens that are not JWTs, checked by IAM's ValidateToken.", {
    enable: bool(
      "Send opaque tokens to IAM ValidateToken (iam.endpoint, or the embedded IAM service).",
      true,
    ),
    prefixes: list(
      "Prefixes that mark a token as an IAM opaque token; anything else that is not a JWT is rejected locally.",
      str("prefix", { pattern: /^[A-Za-z0-9_.-]{1,32}$/, patternDoc: "1-32 of [A-Za-z0-9_.-]" }),
      ["pct_"],
    ),
  }),
  issuer: obj("Embedded token issuer for standalone hosts (`k8shost token issue`).", {
    enable: bool("Trust tokens signed by the key in <dataDir>/iam/issuer.jwk.", true),
    name: str("`iss` of embedded tokens.", { default: "k8shost", pattern: /^\S{1,256}$/ }),
    audience: str("`aud` of embedded tokens.", { default: "k8shost", pattern: /^\S{1,256}$/ }),
    defaultTTL: duration("Lifetime of an issued token when --ttl is not given.", "1h", 1000),
    maxTTL: duration("Longest lifetime `token issue` grants.", "720h", 1000),
  }),
  embedded: obj("The embedded IAM gRPC service (runs when iam.endpoint is empty).", {
    listen: str("Address it serves on. Empty: unix://<dataDir>/iam/iam.sock.", {
      default: "",
      pattern: /^(|unix:\/\/\/\S+|[^\s]+:\d{1,5})$/,
      patternDoc: "unix:///abs/path or host:port",
    }),
  }),
  cache: obj("Review result cache.", {
    size: int("Entries.", { default: 10000, min: 0 }),
    positiveTTL: duration("TTL of an authenticated result (never beyond the token's exp).", "2m"),
    negativeTTL: duration("TTL of a rejection.", "10s"),
  }),
});
