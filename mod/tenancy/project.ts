/** The Project custom resource (cluster-scoped, group plasmacloud.io) and its validation. */
import type { KubeObject } from "../kube/api.ts";

export const PROJECT_GROUP = "plasmacloud.io";
export const PROJECT_VERSION = "v1";

export interface ProjectQuota {
  requestsCpu?: string;
  requestsMemory?: string;
  limitsCpu?: string;
  limitsMemory?: string;
  requestsStorage?: string;
  persistentVolumeClaims?: number;
  pods?: number;
  services?: number;
  servicesLoadBalancers?: number;
  configmaps?: number;
  secrets?: number;
}

export interface ProjectLimits {
  defaultCpu?: string;
  defaultMemory?: string;
  defaultRequestCpu?: string;
  defaultRequestMemory?: string;
}

export interface ProjectPolicy {
  /** Create the deny-all-but-DNS NetworkPolicy (default true). */
  defaultDeny?: boolean;
  /** Also allow traffic between this org's projects. */
  allowSameOrg?: boolean;
  /** Ports that may be reached from outside the cluster (LoadBalancer traffic). */
  allowIngressPorts?: number[];
  /** Pod Security Admission level enforced (warn/audit stay `restricted`). */
  podSecurity?: "privileged" | "baseline" | "restricted";
}

export interface ProjectSpec {
  orgId: string;
  projectId: string;
  displayName?: string;
  createdBy?: string;
  quota?: ProjectQuota;
  limits?: ProjectLimits;
  policy?: ProjectPolicy;
}

export interface Project extends KubeObject {
  spec: ProjectSpec;
  status?: {
    namespace?: string;
    observedGeneration?: number;
    conditions?: Array<
      { type: string; status: string; reason: string; message: string; lastTransitionTime: string }
    >;
  };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

export function namespaceFor(projectId: string): string {
  return `project-${projectId}`;
}

/** Every problem with a Project's spec, each naming its field; empty when valid. */
export function validateProject(p: Project): string[] {
  const errs: string[] = [];
  const s = p.spec ?? ({} as ProjectSpec);
  for (const key of ["orgId", "projectId"] as const) {
    const v = s[key];
    if (typeof v !== "string" || v === "") errs.push(`spec.${key}: required`);
    else if (!LABEL_VALUE.test(v) || v.length > 63) {
      errs.push(`spec.${key}: ${JSON.stringify(v)} is not a valid label value`);
    }
  }
  if (typeof s.projectId === "string" && s.projectId !== "") {
    const ns = namespaceFor(s.projectId);
    if (!DNS_LABEL.test(ns) || ns.length > 63) {
      errs.push(
        `spec.projectId: ${JSON.stringify(s.projectId)} does not make a valid namespace name ${ns}`,
      );
    }
  }
  for (const [k, v] of Object.entries(s.quota ?? {})) {
    if (typeof v === "number") {
      if (!Number.isInteger(v) || v < 0) {
        errs.push(`spec.quota.${k}: ${v} must be a whole number >= 0`);
      }
    } else if (typeof v !== "string" || !QUANTITY.test(v)) {
      errs.push(`spec.quota.${k}: ${JSON.stringify(v)} is not a quantity`);
    }
  }
  for (const [k, v] of Object.entries(s.limits ?? {})) {
    if (typeof v !== "string" || !QUANTITY.test(v)) {
      errs.push(`spec.limits.${k}: ${JSON.stringify(v)} is not a quantity`);
    }
  }
  const ps = s.policy?.podSecurity;
  if (ps !== undefined && !["privileged", "baseline", "restricted"].includes(ps)) {
    errs.push(
      `spec.policy.podSecurity: ${JSON.stringify(ps)} must be privileged, baseline or restricted`,
    );
  }
  for (const port of s.policy?.allowIngressPorts ?? []) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      errs.push(`spec.policy.allowIngressPorts: ${port} is not a port`);
    }
  }
  return errs;
}

/** The CRD the server installs for Projects. */
export function projectCrd(): KubeObject {
  const quantity = { "x-kubernetes-int-or-string": true };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `projects.${PROJECT_GROUP}` },
    spec: {
      group: PROJECT_GROUP,
      scope: "Cluster",
      names: { plural: "projects", singular: "project", kind: "Project", shortNames: ["proj"] },
      versions: [{
        name: PROJECT_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: "Org", type: "string", jsonPath: ".spec.orgId" },
          { name: "Namespace", type: "string", jsonPath: ".status.namespace" },
          {
            name: "Ready",
            type: "string",
            jsonPath: ".status.conditions[?(@.type=='Ready')].status",
          },
        ],
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: {
                type: "object",
                required: ["orgId", "projectId"],
                properties: {
                  orgId: { type: "string" },
                  projectId: { type: "string" },
                  displayName: { type: "string" },
                  createdBy: { type: "string" },
                  quota: { type: "object", additionalProperties: quantity },
                  limits: { type: "object", additionalProperties: { type: "string" } },
                  policy: {
                    type: "object",
                    properties: {
                      defaultDeny: { type: "boolean" },
                      allowSameOrg: { type: "boolean" },
                      allowIngressPorts: { type: "array", items: { type: "integer" } },
                      podSecurity: {
                        type: "string",
                        enum: ["privileged", "baseline", "restricted"],
                      },
                    },
                  },
                },
              },
              status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
            },
          },
        },
      }],
    },
  };
}
