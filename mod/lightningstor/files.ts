/**
 * Volume images on the host filesystem: sparse files (only written blocks use space), copies
 * that share blocks where the filesystem can (`cp --reflink=auto`, which falls back to a sparse
 * copy), growth by truncate, and free-space queries by statfs (through `stat -f`).
 */
import { exec } from "./exec.ts";

/** Creates a sparse image of `size` bytes at `path` (atomically: temp file, then rename). */
export async function createSparse(path: string, size: number): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
  try {
    await f.truncate(size);
  } finally {
    f.close();
  }
  await Deno.rename(tmp, path);
}

/** Copies `src` to `dst` sharing blocks when possible, then sizes the copy to `size` if larger. */
export async function copyImage(src: string, dst: string, size?: number): Promise<void> {
  const tmp = `${dst}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await exec("cp", ["--reflink=auto", "--sparse=always", "--", src, tmp]);
    if (size !== undefined && size > (await Deno.stat(tmp)).size) await Deno.truncate(tmp, size);
    await Deno.rename(tmp, dst);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** Grows the image to `size` bytes; never shrinks. */
export async function growImage(path: string, size: number): Promise<void> {
  if ((await Deno.stat(path)).size < size) await Deno.truncate(path, size);
}

export async function removeImage(path: string): Promise<void> {
  await Deno.remove(path).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
}

export async function imageExists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

export interface FsStats {
  blockSize: number;
  totalBytes: number;
  freeBytes: number;
  availableBytes: number;
  totalInodes: number;
  freeInodes: number;
}

/** statfs(2) of the filesystem holding `path`. */
export async function fsStats(path: string): Promise<FsStats> {
  const out = await exec("stat", ["-f", "-c", "%S %b %f %a %c %d", "--", path]);
  const [bs, blocks, free, avail, files, ffree] = out.trim().split(/\s+/).map(Number);
  if (![bs, blocks, free, avail, files, ffree].every(Number.isFinite)) {
    throw new Error(`unexpected stat -f output for ${path}: ${out.trim()}`);
  }
  return {
    blockSize: bs,
    totalBytes: blocks * bs,
    freeBytes: free * bs,
    availableBytes: avail * bs,
    totalInodes: files,
    freeInodes: ffree,
  };
}
