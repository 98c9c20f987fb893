/**
 * Opaque tokens issued by the embedded IAM service. Only SHA-256 digests are kept, in memory
 * and in `<dataDir>/iam/tokens.json` (0600, atomic rewrite): a leaked state file reveals no
 * usable token. Expired entries are pruned a day after expiry.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { Identity } from "./identity.ts";
import { readIfExists, writeFileAtomic } from "./files.ts";

export const OPAQUE_PREFIX = "pct_";

export interface StoredToken {
  id: string;
  digest: string;
  identity: Identity;
  audiences: string[];
  createdAt: number;
  /** Unix seconds. */
  expiresAt: number;
  revoked: boolean;
}

const PRUNE_AFTER_SECONDS = 86_400;

function digestOf(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export class OpaqueTokenStore {
  private byDigest = new Map<string, StoredToken>();
  private byId = new Map<string, StoredToken>();
  private writes: Promise<void> = Promise.resolve();

  private constructor(private readonly path: string) {}

  static async open(path: string): Promise<OpaqueTokenStore> {
    const store = new OpaqueTokenStore(path);
    const text = await readIfExists(path);
    if (text !== undefined) {
      let doc: { version?: number; tokens?: StoredToken[] };
      try {
        doc = JSON.parse(text);
      } catch {
        throw new Error(`${path}: not valid JSON; move it away to start with no opaque tokens`);
      }
      if (doc.version !== 1 || !Array.isArray(doc.tokens)) {
        throw new Error(`${path}: unknown format (want {"version":1,"tokens":[...]})`);
      }
      for (const t of doc.tokens) store.add(t);
    }
    return store;
  }

  private add(t: StoredToken) {
    this.byDigest.set(t.digest, t);
    this.byId.set(t.id, t);
  }

  get size(): number {
    return this.byId.size;
  }

  byTokenId(id: string): StoredToken | undefined {
    return this.byId.get(id);
  }

  lookup(token: string): StoredToken | undefined {
    return this.byDigest.get(digestOf(token));
  }

  async issue(identity: Identity, ttlSeconds: number, audiences: string[], now = nowSec()) {
    const id = Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex");
    const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    const token = `${OPAQUE_PREFIX}${id}_${secret}`;
    const entry: StoredToken = {
      id,
      digest: digestOf(token),
      identity,
      audiences,
      createdAt: now,
      expiresAt: now + ttlSeconds,
      revoked: false,
    };
    this.add(entry);
    await this.persist(now);
    return { token, id, expiresAt: entry.expiresAt };
  }

  /** Idempotent: false when the id is unknown or already revoked. */
  async revoke(id: string): Promise<boolean> {
    const t = this.byId.get(id);
    if (!t || t.revoked) return false;
    t.revoked = true;
    await this.persist(nowSec());
    return true;
  }

  private persist(now: number): Promise<void> {
    for (const [id, t] of this.byId) {
      if (t.expiresAt + PRUNE_AFTER_SECONDS < now) {
        this.byId.delete(id);
        this.byDigest.delete(t.digest);
      }
    }
    const doc = JSON.stringify({ version: 1, tokens: [...this.byId.values()] }, null, 1) + "\n";
    // Writes are serialised so that an older snapshot never lands after a newer one.
    this.writes = this.writes.catch(() => {}).then(() => writeFileAtomic(this.path, doc, 0o600));
    return this.writes;
  }
}

function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}
