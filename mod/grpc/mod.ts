/**
 * gRPC plumbing shared by every PlasmaCloud contract: proto loading from `proto/`, servers on
 * TCP or unix sockets, and clients that speak TLS and carry the IAM bearer token.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Buffer } from "node:buffer";
import { fileURLToPath } from "node:url";

export { grpc };
export const Status = grpc.status;

const PROTO_DIR = fileURLToPath(new URL("../../proto/", import.meta.url));
const packageCache = new Map<string, grpc.GrpcObject>();

/** Loads `proto/<file>` once; field names stay as written (snake_case), int64 as strings. */
export function loadProto(file: string): grpc.GrpcObject {
  let pkg = packageCache.get(file);
  if (!pkg) {
    const def = protoLoader.loadSync(file, {
      includeDirs: [PROTO_DIR],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    pkg = grpc.loadPackageDefinition(def);
    packageCache.set(file, pkg);
  }
  return pkg;
}

/** Resolves `package.Service` inside a loaded proto into its client constructor. */
export function serviceClient(file: string, qualifiedName: string): grpc.ServiceClientConstructor {
  let node: unknown = loadProto(file);
  for (const part of qualifiedName.split(".")) node = (node as Record<string, unknown>)?.[part];
  if (typeof node !== "function" || !("service" in node)) {
    throw new Error(`proto/${file} has no service ${qualifiedName}`);
  }
  return node as grpc.ServiceClientConstructor;
}

/** Error carrying a gRPC status code; handlers throw it and the server wrapper maps it. */
export class GrpcError extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
  }
}

export interface ServerTls {
  certPem: Uint8Array;
  keyPem: Uint8Array;
  /** When set, clients must present a certificate signed by this CA. */
  clientCaPem?: Uint8Array;
}

// deno-lint-ignore no-explicit-any
export type AsyncHandler = (request: any, call: grpc.ServerUnaryCall<any, any>) => Promise<any>;
export type AsyncImpl = Record<string, AsyncHandler>;

/**
 * Adapts promise-returning handlers to grpc-js callbacks. A thrown GrpcError keeps its code;
 * anything else becomes INTERNAL with its message (never a stack trace).
 */
export function unaryHandlers(impl: AsyncImpl): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, fn] of Object.entries(impl)) {
    out[name] = (
      // deno-lint-ignore no-explicit-any
      call: grpc.ServerUnaryCall<any, any>,
      // deno-lint-ignore no-explicit-any
      callback: grpc.sendUnaryData<any>,
    ) => {
      fn(call.request, call).then(
        (res) => callback(null, res),
        (err) => callback(toServiceError(err)),
      );
    };
  }
  return out;
}

function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof GrpcError) return { code: err.code, details: err.message };
  const msg = err instanceof Error ? err.message : String(err);
  return { code: grpc.status.INTERNAL, details: msg };
}

export interface RunningServer {
  server: grpc.Server;
  /** Bound port for TCP addresses (0 for unix sockets). */
  port: number;
  /** The address clients should dial (`127.0.0.1:port`, `unix:///path`). */
  target: string;
  stop(): Promise<void>;
}

/**
 * Starts a server on `address` (`host:port`, `[::1]:port`, `unix:///abs/path`). A stale unix
 * socket file is removed first; the socket is left 0660.
 */
export async function startServer(
  address: string,
  services: Array<[grpc.ServiceDefinition, grpc.UntypedServiceImplementation]>,
  tls?: ServerTls,
): Promise<RunningServer> {
  const server = new grpc.Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024 });
  for (const [def, impl] of services) server.addService(def, impl);
  const unixPath = address.startsWith("unix://") ? address.slice("unix://".length) : undefined;
  if (unixPath) await Deno.remove(unixPath).catch(() => {});
  const creds = tls
    ? grpc.ServerCredentials.createSsl(
      tls.clientCaPem ? Buffer.from(tls.clientCaPem) : null,
      [{ cert_chain: Buffer.from(tls.certPem), private_key: Buffer.from(tls.keyPem) }],
      Boolean(tls.clientCaPem),
    )
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, creds, (err, p) => err ? reject(err) : resolve(p))
  );
  if (unixPath) await Deno.chmod(unixPath, 0o660).catch(() => {});
  const target = unixPath ? address : address.replace(/:\d+$/, `:${port}`);
  return {
    server,
    port,
    target,
    stop: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }).finally(() => unixPath ? Deno.remove(unixPath).catch(() => {}) : undefined),
  };
}

export interface ClientOptions {
  /** `host:port` or `unix:///path`. */
  endpoint: string;
  /** PEM CA bundle; when set (or `tls` is true) the channel uses TLS. */
  caPem?: Uint8Array;
  certPem?: Uint8Array;
  keyPem?: Uint8Array;
  tls?: boolean;
  /** Returns the bearer token sent as `authorization` metadata on every call. */
  token?: () => string | Promise<string>;
}

export function channelCredentials(opts: ClientOptions): grpc.ChannelCredentials {
  const useTls = opts.tls || opts.caPem !== undefined;
  if (!useTls) {
    if (opts.token) {
      // Tokens on a plaintext channel are only allowed to loopback/unix peers.
      if (!isLocalEndpoint(opts.endpoint)) {
        throw new Error(`refusing to send a bearer token to ${opts.endpoint} without TLS`);
      }
    }
    return grpc.credentials.createInsecure();
  }
  const base = grpc.credentials.createSsl(
    opts.caPem ? Buffer.from(opts.caPem) : null,
    opts.keyPem ? Buffer.from(opts.keyPem) : null,
    opts.certPem ? Buffer.from(opts.certPem) : null,
  );
  if (!opts.token) return base;
  const tokenFn = opts.token;
  const callCreds = grpc.credentials.createFromMetadataGenerator((_params, cb) => {
    Promise.resolve(tokenFn()).then((t) => {
      const md = new grpc.Metadata();
      md.set("authorization", `Bearer ${t}`);
      cb(null, md);
    }, (err) => cb(err));
  });
  return grpc.credentials.combineChannelCredentials(base, callCreds);
}

export function isLocalEndpoint(endpoint: string): boolean {
  return endpoint.startsWith("unix:") ||
    /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+$/.test(endpoint);
}

/**
 * Builds a client. On TLS channels the token is attached by call credentials; on plaintext
 * channels (only allowed to loopback or unix peers) an interceptor attaches it instead, since
 * grpc-js refuses call credentials on insecure channels.
 */
export function makeClient<T extends grpc.Client>(
  ctor: grpc.ServiceClientConstructor,
  opts: ClientOptions,
): T {
  const creds = channelCredentials(opts);
  const plaintext = !(opts.tls || opts.caPem !== undefined);
  const interceptors: grpc.Interceptor[] = [];
  if (plaintext && opts.token) interceptors.push(tokenInterceptor(opts.token));
  const client = new ctor(opts.endpoint, creds, {
    "grpc.max_receive_message_length": 16 * 1024 * 1024,
    interceptors,
  });
  return client as unknown as T;
}

function tokenInterceptor(token: () => string | Promise<string>): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        Promise.resolve(token()).then((t) => {
          metadata.set("authorization", `Bearer ${t}`);
          next(metadata, listener);
        }, () => next(metadata, listener));
      },
    });
}

/** Promise form of a unary call with a deadline and optional metadata. */
export function call<Res>(
  client: grpc.Client,
  method: string,
  request: unknown,
  opts: { timeoutMs?: number; metadata?: grpc.Metadata } = {},
): Promise<Res> {
  const fn = (client as unknown as Record<string, unknown>)[method];
  if (typeof fn !== "function") throw new Error(`client has no method ${method}`);
  const deadline = new Date(Date.now() + (opts.timeoutMs ?? 10_000));
  return new Promise<Res>((resolve, reject) => {
    fn.call(
      client,
      request,
      opts.metadata ?? new grpc.Metadata(),
      { deadline },
      (err: grpc.ServiceError | null, res: Res) => err ? reject(err) : resolve(res),
    );
  });
}

/** The bearer token of an incoming call, if any. */
export function bearerToken(metadata: grpc.Metadata): string | undefined {
  const v = metadata.get("authorization")[0];
  if (typeof v !== "string") return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(v);
  return m?.[1];
}
