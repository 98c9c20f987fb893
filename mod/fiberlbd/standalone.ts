/**
 * Runs the embedded FiberLB on its own: `deno run -A mod/fiberlbd/standalone.ts --data-dir DIR
 * [--listen unix:///path|host:port] [--manage-addresses] [--iface fiberlb0]`. Prints
 * `ready <target>` on stdout once serving; stops on SIGTERM/SIGINT. Used by the network
 * namespace test (run under `ip netns exec`) and for operating FiberLB outside k8shost.
 */
import { startEmbeddedFiberlb } from "./mod.ts";

function usage(msg: string): never {
  console.error(
    `fiberlbd: ${msg}\nusage: standalone.ts --data-dir DIR [--listen ADDR] [--manage-addresses] [--iface NAME]`,
  );
  Deno.exit(2);
}

const args = [...Deno.args];
const opts: { dataDir?: string; listen?: string; manage: boolean; iface?: string } = {
  manage: false,
};
while (args.length) {
  const a = args.shift()!;
  if (a === "--data-dir") opts.dataDir = args.shift();
  else if (a === "--listen") opts.listen = args.shift();
  else if (a === "--manage-addresses") opts.manage = true;
  else if (a === "--iface") opts.iface = args.shift();
  else usage(`unknown argument "${a}"`);
}
if (!opts.dataDir?.startsWith("/")) usage("--data-dir must be an absolute path");

const lb = await startEmbeddedFiberlb({
  dataDir: opts.dataDir,
  listen: opts.listen,
  manageAddresses: opts.manage,
  iface: opts.iface,
  listenerRetryMs: 200,
});
console.log(`ready ${lb.target}`);
const done = Promise.withResolvers<void>();
for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, () => done.resolve());
await done.promise;
await lb.stop();
Deno.exit(0);
