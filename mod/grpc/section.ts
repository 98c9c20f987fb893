/**
 * Client options for a PlasmaCloud service from its config section (the fields of
 * `serviceClientFields`): one place for the TLS and token rules every contract shares.
 */
import { type ClientOptions, isLocalEndpoint } from "./mod.ts";

export interface ServiceClientSection {
  endpoint: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  tokenFile: string;
  insecure: boolean;
  timeout: number;
}

/** How long a token read from its file is reused before the file is read again. */
const TOKEN_REREAD_MS = 10_000;

/**
 * TLS whenever a CA is given or the peer is not loopback/unix, unless `insecure` (plaintext to
 * a trusted network, never with a token — grpc/mod.ts refuses that). The token file is re-read
 * at most every 10 s, so a rotated token is picked up without a restart. A file that cannot be
 * read is an error naming its config key.
 */
export async function clientOptionsFromSection(
  section: string,
  s: ServiceClientSection,
): Promise<ClientOptions> {
  const read = async (key: "caFile" | "certFile" | "keyFile") => {
    const path = s[key];
    if (!path) return undefined;
    try {
      return await Deno.readFile(path);
    } catch (e) {
      throw new Error(`${section}.${key}: cannot read ${path}: ${(e as Error).message}`);
    }
  };
  const [caPem, certPem, keyPem] = await Promise.all([
    read("caFile"),
    read("certFile"),
    read("keyFile"),
  ]);
  const opts: ClientOptions = {
    endpoint: s.endpoint,
    caPem,
    certPem,
    keyPem,
    tls: caPem !== undefined || (!s.insecure && !isLocalEndpoint(s.endpoint)),
  };
  if (s.tokenFile) {
    const file = s.tokenFile;
    let cached = { at: -Infinity, token: "" };
    opts.token = async () => {
      if (Date.now() - cached.at > TOKEN_REREAD_MS) {
        try {
          cached = { at: Date.now(), token: (await Deno.readTextFile(file)).trim() };
        } catch (e) {
          throw new Error(`${section}.tokenFile: cannot read ${file}: ${(e as Error).message}`);
        }
      }
      return cached.token;
    };
  }
  return opts;
}
