/**
 * The HTTPS endpoint kube-apiserver calls. Built on node:https because Deno.serve cannot ask
 * for or verify a client certificate; node:https in Deno does (requestCert / ca /
 * rejectUnauthorized) and measured as fast as Deno.serve for this load (bench/webhook_load.ts).
 *
 * Answers: 200 with a TokenReview for every well-formed review (authenticated or not — a 401
 * would make kube-apiserver treat the webhook itself as failing); 400 with a metav1.Status for
 * bodies that are not a TokenReview; never a stack trace, never a token in a log line.
 */
import { Buffer } from "node:buffer";
import http from "node:http";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../log/mod.ts";
import type { Authenticator } from "./authenticator.ts";
import type { WebhookMetrics } from "./metrics.ts";
import { BadReview, parseReview, renderReview, renderStatus, WEBHOOK_PATH } from "./review.ts";

export interface WebhookTls {
  certPem: string;
  keyPem: string;
  /** CA for client certificates; with it the server asks every client for one. */
  clientCaPem?: string;
  /** Refuse the TLS handshake without a valid client certificate. */
  requireClientCert: boolean;
}

export interface WebhookServerOptions {
  hostname: string;
  port: number;
  tls?: WebhookTls;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  authenticator: Authenticator;
  log: Logger;
  metrics: WebhookMetrics;
}

export interface RunningWebhook {
  port: number;
  close(): Promise<void>;
}

type Req = http.IncomingMessage;
type Res = http.ServerResponse;

class HttpError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<RunningWebhook> {
  const handler = (req: Req, res: Res) => {
    handle(opts, req, res).catch((err) => {
      opts.log.error("TokenReview handler failed", { error: err });
      if (!res.headersSent) send(res, 500, renderStatus(500, "internal error"));
    });
  };
  const server = opts.tls
    ? https.createServer({
      cert: opts.tls.certPem,
      key: opts.tls.keyPem,
      ca: opts.tls.clientCaPem,
      requestCert: opts.tls.clientCaPem !== undefined,
      rejectUnauthorized: opts.tls.clientCaPem !== undefined && opts.tls.requireClientCert,
      minVersion: "TLSv1.2",
    }, handler)
    : http.createServer(handler);
  // Small request/response pairs on keep-alive connections: Nagle + delayed ACK would add
  // ~40 ms stalls.
  server.on(
    opts.tls ? "secureConnection" : "connection",
    (sock: { setNoDelay(v: boolean): void }) => sock.setNoDelay(true),
  );
  server.requestTimeout = opts.requestTimeoutMs;
  server.headersTimeout = Math.min(opts.requestTimeoutMs, 60_000);
  server.keepAliveTimeout = 90_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

async function handle(opts: WebhookServerOptions, req: Req, res: Res) {
  const started = performance.now();
  let result = "error";
  let reason = "internal";
  let code = 500;
  try {
    const url = (req.url ?? "").split("?")[0];
    if (url === "/healthz" && req.method === "GET") {
      code = 200;
      result = "health";
      reason = "healthz";
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return;
    }
    checkPeer(opts, req);
    if (url !== WEBHOOK_PATH) {
      throw new HttpError(404, `no such path; POST TokenReviews to ${WEBHOOK_PATH}`);
    }
    if (req.method !== "POST") throw new HttpError(405, "TokenReviews are sent with POST");
    const type = String(req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    if (type !== "application/json") {
      throw new HttpError(
        400,
        `content-type must be application/json, got ${JSON.stringify(type).slice(0, 60)}`,
      );
    }
    const body = await readBody(req, opts.maxBodyBytes);
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      throw new HttpError(400, "request body is not valid JSON");
    }
    let review;
    try {
      review = parseReview(doc);
    } catch (err) {
      if (err instanceof BadReview) throw new HttpError(400, err.message);
      throw err;
    }
    const out = await opts.authenticator.review(review);
    opts.metrics.cacheLookups.inc({ result: out.cached ? "hit" : "miss" });
    code = 200;
    result = out.answer.authenticated ? "authenticated" : "unauthenticated";
    reason = out.reason;
    send(res, 200, renderReview(review, out.answer));
    if (opts.log.enabled("debug")) {
      opts.log.debug("token review", {
        token: out.fingerprint,
        apiVersion: review.apiVersion,
        result,
        reason,
        cached: out.cached,
        user: out.answer.user?.username,
      });
    }
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    code = err.code;
    result = "bad_request";
    reason = `http_${err.code}`;
    if (err.code === 400) reason = "malformed_request";
    res.setHeader("connection", "close");
    send(res, err.code, renderStatus(err.code, err.message));
    opts.log.debug("rejected request", {
      code,
      error: err.message,
      peer: req.socket.remoteAddress,
    });
  } finally {
    if (result !== "health") {
      opts.metrics.requests.inc({ code: String(code), result, reason });
      opts.metrics.duration.observe({ result }, (performance.now() - started) / 1000);
    }
  }
}

/** With a client CA but no requirement, a presented certificate must still be valid. */
function checkPeer(opts: WebhookServerOptions, req: Req) {
  if (!opts.tls?.clientCaPem || opts.tls.requireClientCert) return;
  const sock = req.socket as TLSSocket;
  if (sock.authorized) return;
  const peer = sock.getPeerCertificate?.();
  if (peer && Object.keys(peer).length > 0) {
    throw new HttpError(403, "client certificate is not signed by the trusted CA");
  }
}

function readBody(req: Req, max: number): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > max) {
    req.resume();
    return Promise.reject(new HttpError(400, `request body exceeds ${max} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let done = false;
    req.on("data", (c: Uint8Array) => {
      if (done) return;
      size += c.length;
      if (size > max) {
        done = true;
        reject(new HttpError(400, `request body exceeds ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (done) return;
      done = true;
      resolve(new TextDecoder().decode(concat(chunks, size)));
    });
    req.on("error", (err) => {
      if (!done) {
        done = true;
        reject(err);
      }
    });
  });
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function send(res: Res, code: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}
