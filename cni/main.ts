/**
 * The plugin face on its own, for measuring (bench/cni_bench.ts) and for installs that want the
 * leanest start: `deno run -A cni/main.ts` behaves exactly like `k8shost` invoked as prismnet.
 */
import { main } from "./plugin.ts";

if (import.meta.main) Deno.exit(await main());
