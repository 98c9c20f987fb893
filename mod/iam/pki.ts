/**
 * The webhook's own small PKI, generated on first start into `<dataDir>/iam/`: a CA, the
 * webhook's serving certificate and the client certificate kube-apiserver presents to it.
 *
 * Certificates are made in-process with @peculiar/x509 over WebCrypto (ECDSA P-256), so the
 * compiled binary needs no `openssl` on the host and nothing is parsed from a subprocess.
 * Existing files are reused; a leaf is re-issued when it is missing, expires within 30 days,
 * was not signed by the current CA, or no longer covers the names it must.
 */
import * as x509 from "@peculiar/x509";
import { createPrivateKey, createPublicKey, X509Certificate as NodeX509 } from "node:crypto";
import { join } from "node:path";
import { readIfExists, writeFileAtomic } from "./files.ts";

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY = 86_400_000;
const CA_DAYS = 3650;
const LEAF_DAYS = 365;
const RENEW_BEFORE_DAYS = 30;

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface LeafSpec {
  commonName: string;
  organization?: string;
  dnsNames?: string[];
  ips?: string[];
  usage: "server" | "client";
  days?: number;
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, "$&\n")}-----END ${label}-----\n`;
}

function fromPem(pem: string, label: string): Uint8Array<ArrayBuffer> {
  const m = new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`).exec(pem);
  if (!m) throw new Error(`not a PEM ${label}`);
  return Uint8Array.from(atob(m[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
}

async function newKeys(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(EC, true, ["sign", "verify"]);
}

async function keyPem(key: CryptoKey): Promise<string> {
  return toPem(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

function serial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] &= 0x7f; // positive INTEGER
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function dn(cn: string, o?: string): string {
  const esc = (s: string) => s.replace(/([,+"\\<>;=])/g, "\\$1");
  return o ? `CN=${esc(cn)}, O=${esc(o)}` : `CN=${esc(cn)}`;
}

export async function generateCa(commonName: string): Promise<KeyPairPem> {
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: dn(commonName),
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + CA_DAYS * DAY),
    signingAlgorithm: SIGN,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign |
          x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await keyPem(keys.privateKey) };
}

export async function issueLeaf(ca: KeyPairPem, spec: LeafSpec): Promise<KeyPairPem> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await crypto.subtle.importKey(
    "pkcs8",
    fromPem(ca.keyPem, "PRIVATE KEY"),
    EC,
    false,
    ["sign"],
  );
  const keys = await newKeys();
  const now = Date.now();
  const names: x509.JsonGeneralName[] = [
    ...(spec.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(spec.ips ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([
      spec.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
    ]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert),
  ];
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: dn(spec.commonName, spec.organization),
    issuer: caCert.subject,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + (spec.days ?? LEAF_DAYS) * DAY),
    signingAlgorithm: SIGN,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions,
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await keyPem(keys.privateKey) };
}

/** Whether the private key belongs to the certificate (a crash between two writes could split them). */
export function keyMatches(certPem: string, keyPemText: string): boolean {
  try {
    const fromKey = createPublicKey(createPrivateKey(keyPemText)).export({
      type: "spki",
      format: "der",
    });
    const fromCert = new NodeX509(certPem).publicKey.export({ type: "spki", format: "der" });
    return fromKey.equals(fromCert);
  } catch {
    return false;
  }
}

/** Whether `leafPem` is still good: signed by the CA, not near expiry, covering every name. */
export function leafStillValid(leafPem: string, caPem: string, spec: LeafSpec): boolean {
  try {
    const leaf = new NodeX509(leafPem);
    const ca = new NodeX509(caPem);
    if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return false;
    if (Date.parse(leaf.validTo) - Date.now() < RENEW_BEFORE_DAYS * DAY) return false;
    const have = new Set(
      (leaf.subjectAltName ?? "").split(",").map((e) => canonicalSan(e.trim())),
    );
    const want = [
      ...(spec.dnsNames ?? []).map((d) => `DNS:${d}`),
      ...(spec.ips ?? []).map((ip) => canonicalSan(`IP Address:${ip}`)),
    ];
    return want.every((w) => have.has(w));
  } catch {
    return false;
  }
}

/** SAN entries in one spelling: IPv6 fully expanded, lower case (printers differ). */
function canonicalSan(entry: string): string {
  const prefix = "IP Address:";
  if (!entry.startsWith(prefix)) return entry;
  const ip = entry.slice(prefix.length);
  if (!ip.includes(":")) return entry;
  const [head, tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return prefix + groups.map((g) => parseInt(g || "0", 16).toString(16)).join(":");
}

function caStillValid(caPem: string): boolean {
  try {
    const ca = new NodeX509(caPem);
    return ca.ca && Date.parse(ca.validTo) - Date.now() > RENEW_BEFORE_DAYS * DAY;
  } catch {
    return false;
  }
}

export interface PkiFiles {
  caCert: string;
  caKey: string;
}

/** Loads the CA in `dir` (`ca.crt`/`ca.key`), creating it when absent or expiring. */
export async function ensureCa(
  dir: string,
  commonName: string,
): Promise<KeyPairPem & { created: boolean }> {
  const certPath = join(dir, "ca.crt");
  const keyPath = join(dir, "ca.key");
  const [certPem, keyPemText] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
  if (certPem && keyPemText && caStillValid(certPem) && keyMatches(certPem, keyPemText)) {
    return { certPem, keyPem: keyPemText, created: false };
  }
  const ca = await generateCa(commonName);
  await writeFileAtomic(keyPath, ca.keyPem, 0o600);
  await writeFileAtomic(certPath, ca.certPem, 0o644);
  return { ...ca, created: true };
}

/** Loads `<name>.crt`/`<name>.key` in `dir`, re-issuing them from `ca` when no longer valid. */
export async function ensureLeaf(
  dir: string,
  name: string,
  ca: KeyPairPem,
  spec: LeafSpec,
): Promise<KeyPairPem & { certPath: string; keyPath: string; issued: boolean }> {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  const [certPem, keyPemText] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
  if (
    certPem && keyPemText && leafStillValid(certPem, ca.certPem, spec) &&
    keyMatches(certPem, keyPemText)
  ) {
    return { certPem, keyPem: keyPemText, certPath, keyPath, issued: false };
  }
  const leaf = await issueLeaf(ca, spec);
  await writeFileAtomic(keyPath, leaf.keyPem, 0o600);
  await writeFileAtomic(certPath, leaf.certPem, 0o644);
  return { ...leaf, certPath, keyPath, issued: true };
}
