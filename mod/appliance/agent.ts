/** `k8shost agent`: a worker (k3s agent + the node parts). */
import { applianceMain } from "./face.ts";

export function main(args: string[]): Promise<number> {
  return applianceMain("agent", args);
}
