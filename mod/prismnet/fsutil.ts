/** Crash-safe file writes for prismnet's state. */
import { dirname } from "node:path";

let seq = 0;
const tmpName = (path: string) =>
  `${dirname(path)}/.tmp-${Deno.pid}-${++seq}-${path.split("/").pop()}`;

async function writeTemp(path: string, data: string, sync: boolean): Promise<string> {
  const tmp = tmpName(path);
  const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
  try {
    const bytes = new TextEncoder().encode(data);
    for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
    if (sync) await f.syncData();
  } finally {
    f.close();
  }
  return tmp;
}

/** Replaces `path` atomically (temp file + rename); readers see the old or the new content. */
export async function writeFileAtomic(path: string, data: string, sync = true): Promise<void> {
  const tmp = await writeTemp(path, data, sync);
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Creates `path` with its full content only if it does not exist yet (temp file + hard link,
 * which fails on an existing name). Returns false when it already existed.
 */
export async function createExclusive(path: string, data: string, sync = true): Promise<boolean> {
  const tmp = await writeTemp(path, data, sync);
  try {
    await Deno.link(tmp, path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw e;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

export async function removeIfExists(path: string): Promise<boolean> {
  try {
    await Deno.remove(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Removes temp files a crash left behind. */
export async function sweepTemps(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.startsWith(".tmp-")) {
      await Deno.remove(`${dir}/${e.name}`).catch(() => {});
    }
  }
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}
