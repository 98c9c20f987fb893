/**
 * The test API server as a process, for pointing an attach-mode appliance or kubectl at it:
 *
 *   deno task test-apiserver --port 6443 [--http] [--token T] [--kubeconfig-out PATH]
 *
 * Prints the URL and the kubeconfig path, then serves until SIGINT/SIGTERM.
 */
import { startTestApiServer } from "./mod.ts";

const USAGE = `usage: test-apiserver [--port N] [--host ADDR] [--http] [--token TOKEN]
                      [--kubeconfig-out PATH] [--history N]
  --port N              port on 127.0.0.1 (default 0: any free port)
  --host ADDR           address to bind (default 127.0.0.1)
  --http                plain HTTP instead of HTTPS with a generated CA
  --token TOKEN         require this bearer token
  --kubeconfig-out PATH where to write the kubeconfig (default: a temp dir)
  --history N           watch events kept for resumption (default 10000)`;

export interface StandaloneArgs {
  port: number;
  host: string;
  tls: boolean;
  token?: string;
  kubeconfigOut?: string;
  history?: number;
}

export function parseArgs(argv: string[]): StandaloneArgs {
  const out: StandaloneArgs = { port: 0, host: "127.0.0.1", tls: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = (v: string, max: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > max) {
        throw new Error(`${a}: "${v}" is not 0..${max}`);
      }
      return n;
    };
    if (a === "--port") out.port = int(value(), 65535);
    else if (a === "--host") out.host = value();
    else if (a === "--http") out.tls = false;
    else if (a === "--tls") out.tls = true;
    else if (a === "--token") out.token = value();
    else if (a === "--kubeconfig-out") out.kubeconfigOut = value();
    else if (a === "--history") out.history = int(value(), 10_000_000);
    else if (a === "-h" || a === "--help") throw new Error(USAGE);
    else throw new Error(`unknown argument "${a}"\n${USAGE}`);
  }
  return out;
}

if (import.meta.main) {
  let args: StandaloneArgs;
  try {
    args = parseArgs(Deno.args);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  const server = await startTestApiServer({
    tls: args.tls,
    token: args.token,
    port: args.port,
    hostname: args.host,
    historyLimit: args.history,
    kubeconfigPath: args.kubeconfigOut,
  });
  console.log(`test-apiserver listening on ${server.url}`);
  console.log(`kubeconfig: ${server.kubeconfigPath}`);
  console.log(`try: kubectl --kubeconfig ${server.kubeconfigPath} get namespaces`);
  const stop = async () => {
    await server.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
