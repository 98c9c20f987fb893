/** File helpers for IAM state; the crash-safe ones are shared (mod/fsutil). */
export { createOnce, readIfExists, writeFileAtomic } from "../fsutil/mod.ts";

/** Reads a file the config names, with an error that says which key it came from. */
export async function readConfigured(path: string, key: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw new Error(`${key}: cannot read ${path}: ${(err as Error).message}`);
  }
}
