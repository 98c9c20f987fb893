/**
 * Deterministic names and external_ids of the rows the NetworkPolicy controller owns. Port
 * group and address set names appear in ACL matches (`@pg`, `$as`), where only identifier
 * characters are allowed, so they are hashes of what they stand for; external_ids carry the
 * readable identity, which is what a resync searches by.
 */
export const OWNER_KEY = "k8shost.io/owner";
export const OWNER = "netpol";
export const KEYS = {
  ownerType: "k8shost.io/owner-type",
  name: "k8shost.io/name",
  id: "k8shost.io/id",
  direction: "k8shost.io/direction",
  rule: "k8shost.io/rule",
  family: "k8shost.io/family",
} as const;

export type OwnerType = "NetpolNamespace" | "NetworkPolicy" | "NetpolPeers";

/** 64-bit FNV-1a as 16 hex digits: stable across runs and versions, unlike any built-in. */
export function hash64(text: string): string {
  let h = 0xcbf29ce484222325n;
  const bytes = new TextEncoder().encode(text);
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

export const owned = (ownerType: OwnerType, name: string, extra: Record<string, string> = {}) => ({
  [OWNER_KEY]: OWNER,
  [KEYS.ownerType]: ownerType,
  [KEYS.name]: name,
  ...extra,
});

/** Port group of a namespace's pods isolated for ingress or egress (default deny). */
export const denyGroupName = (namespace: string, dir: "ingress" | "egress") =>
  `kh_${hash64(`ns:${namespace}`)}_${dir}DefaultDeny`;

/** Port group of the pods a policy selects. */
export const policyGroupName = (namespace: string, policy: string) =>
  `kh_${hash64(`np:${namespace}/${policy}`)}`;

/** Address set of the pods one rule's selector peers match, per IP family. */
export const peerSetName = (
  namespace: string,
  policy: string,
  dir: "ingress" | "egress",
  rule: number,
  family: 4 | 6,
) => `kh_${hash64(`peers:${namespace}/${policy}/${dir}/${rule}`)}_v${family}`;

/** ACL.name is at most 63 characters. */
export const aclName = (text: string) => (text.length <= 63 ? text : text.slice(0, 63));
