import { bool, duration, path, str } from "../schema.ts";

/**
 * How to reach a PlasmaCloud service over gRPC. An empty endpoint means "use the embedded
 * implementation": the appliance then serves the same contract itself.
 */
export const serviceClientFields = (service: string, example: string) => ({
  endpoint: str(
    `${service} gRPC endpoint (\`host:port\` or \`unix:///path\`), e.g. \`${example}\`. Empty: run the embedded ${service}.`,
    { default: "" },
  ),
  caFile: path(`PEM CA bundle that signs ${service}'s serving certificate; set for TLS.`),
  certFile: path(`PEM client certificate for mTLS to ${service} (optional).`),
  keyFile: path(`PEM client key for mTLS to ${service} (optional).`, "", { secret: true }),
  tokenFile: path(`File holding the IAM bearer token sent to ${service}.`, "", { secret: true }),
  insecure: bool(`Allow plaintext to a non-loopback ${service} endpoint (never with a token).`),
  timeout: duration(`Deadline of one ${service} call.`, "10s", 100),
});
