/** k3s supervision: the command line, the files it reads, the supervised child. */
export { buildK3sArgs, disabledComponents, K3sArgsError, type K3sCommand } from "./args.ts";
export { AUDIT_POLICY, clusterDnsIp, type K3sLayout, k3sLayout } from "./layout.ts";
export { afterCrash, policyFromConfig, type RestartPolicy } from "./policy.ts";
export { prepareK3sFiles, writeFileAtomic } from "./prepare.ts";
export { K3sBinaryError, resolveBin } from "./process.ts";
export { probeReadyz } from "./readiness.ts";
export { K3sSupervisor, type SupervisorEnd, type SupervisorOptions } from "./supervisor.ts";
