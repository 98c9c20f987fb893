/**
 * Crash-safe files shared by the parts that keep state on disk: atomic writes with the right mode
 * from the first byte, create-once, and reads that tell "absent" from "unreadable".
 */
import { dirname } from "node:path";

function tempName(path: string): string {
  return `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Writes `data` to `path` atomically (temp file in the same dir, fsync, rename). */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600) {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tempName(path);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true, mode });
    try {
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.chmod(tmp, mode); // the umask may have narrowed or the mode must be exact
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Creates `path` with `make()`'s content unless it exists; when two processes race, exactly one
 * file wins (hard link of a complete temp file) and both return its content.
 */
export async function createOnce(
  path: string,
  make: () => Promise<string>,
  mode = 0o600,
): Promise<{ content: string; created: boolean }> {
  const existing = await readIfExists(path);
  if (existing !== undefined) return { content: existing, created: false };
  const tmp = tempName(path);
  await writeFileAtomic(tmp, await make(), mode);
  try {
    await Deno.link(tmp, path);
    return { content: await Deno.readTextFile(path), created: true };
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    return { content: await Deno.readTextFile(path), created: false };
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/** Syncs a directory, so that a rename or a new file in it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const d = await Deno.open(dir, { read: true });
  try {
    await d.sync();
  } finally {
    d.close();
  }
}
