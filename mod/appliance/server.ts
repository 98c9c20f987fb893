/** `k8shost server`: the control plane (k3s server + embedded parts + this node's parts). */
import { applianceMain } from "./face.ts";

export function main(args: string[]): Promise<number> {
  return applianceMain("server", args);
}
