/**
 * Runs the prismnet node daemon alone (no k3s), for tests and the bench: started inside a
 * "node" network namespace so its bridge and routes stay out of the host's. Options come as
 * JSON in argv[1]; prints `ready` once serving and stops on SIGTERM.
 */
import { configureLogging, logger } from "../mod/log/mod.ts";
import { NodeNetwork, type NodeNetworkOptions } from "../mod/prismnet/node.ts";

const opts = JSON.parse(Deno.args[0]) as NodeNetworkOptions;
configureLogging({ level: (Deno.env.get("KHCNI_LOG") as "debug" | undefined) ?? "error" });
const net = new NodeNetwork(opts, logger("prismnet"));
await net.start();
console.log("ready");
const stop = async () => {
  await net.stop();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
