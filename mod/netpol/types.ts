/** NetworkPolicy (networking.k8s.io/v1) as read, and the OVN rows the controller wants. */
import type { KubeObject } from "../kube/api.ts";

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface PolicyPort {
  protocol?: string;
  /** A number, or the name of a container port. Absent: every port of the protocol. */
  port?: number | string;
  endPort?: number;
}

export interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface PolicyRule {
  /** `from` (ingress) or `to` (egress); absent or empty: every peer. */
  peers?: PolicyPeer[];
  /** Absent or empty: every port. */
  ports?: PolicyPort[];
}

export interface NetworkPolicy extends KubeObject {
  spec: {
    podSelector: LabelSelector;
    policyTypes?: string[];
    ingress?: Array<{ from?: PolicyPeer[]; ports?: PolicyPort[] }>;
    egress?: Array<{ to?: PolicyPeer[]; ports?: PolicyPort[] }>;
  };
}

/** What the translation needs of a pod: labels, its addresses and its logical ports. */
export interface PodInfo {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** Pod IPs (from its logical switch port, else from status.podIPs). */
  ips: string[];
  /** Names of its logical switch ports (usually one). */
  ports: string[];
  containerPorts: Array<{ name?: string; port: number; protocol: string }>;
}

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

export type Direction = "from-lport" | "to-lport";
export type AclAction = "allow" | "allow-related" | "drop";

export interface DesiredAcl {
  /** Unique among the controller's ACLs: the external_ids key a resync finds the row by. */
  id: string;
  direction: Direction;
  priority: number;
  match: string;
  action: AclAction;
  /** ACL.name (at most 63 characters), shown in OVN logs. */
  name: string;
  options: Record<string, string>;
  externalIds: Record<string, string>;
}

export interface DesiredPortGroup {
  name: string;
  /** Logical switch port names (sorted). */
  ports: string[];
  acls: DesiredAcl[];
  externalIds: Record<string, string>;
}

export interface DesiredAddressSet {
  name: string;
  /** Sorted addresses of one family. */
  addresses: string[];
  externalIds: Record<string, string>;
}

export interface DesiredState {
  portGroups: Map<string, DesiredPortGroup>;
  addressSets: Map<string, DesiredAddressSet>;
  /** Policies (ns/name) with parts that could not be translated, and why. */
  problems: Array<{ policy: string; message: string }>;
}
