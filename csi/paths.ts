/**
 * Path arguments from the CO are confined to the kubelet directories: absolute, normalised
 * (no `.`/`..` segments, no NUL), and inside one of the allowed roots even after symlinks in
 * the existing part of the path are resolved. The node plugin mounts and deletes at these
 * paths as root, so a path outside the roots is never acted on.
 */
import { dirname } from "node:path";

export class PathError extends Error {}

const MAX_PATH = 4096;

function within(path: string, root: string): boolean {
  const r = root.endsWith("/") ? root : root + "/";
  return path === root || path.startsWith(r);
}

/** Lexical checks only (pure): the normalised path, or PathError. */
export function checkPathSyntax(path: string, roots: string[], field: string): string {
  if (typeof path !== "string" || path === "") throw new PathError(`${field} is required`);
  if (path.length > MAX_PATH) throw new PathError(`${field} is longer than ${MAX_PATH} bytes`);
  if (path.includes("\0")) throw new PathError(`${field} contains NUL`);
  if (!path.startsWith("/")) throw new PathError(`${field} must be an absolute path`);
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const segments = trimmed.split("/").slice(1);
  if (segments.some((s) => s === "" || s === "." || s === "..")) {
    throw new PathError(`${field} must be normalised (no empty, "." or ".." segments)`);
  }
  if (!roots.some((r) => within(trimmed, r) && trimmed !== r)) {
    throw new PathError(
      `${field} ${trimmed} is outside the kubelet directories (${roots.join(", ")})`,
    );
  }
  return trimmed;
}

/**
 * Lexical checks plus symlink resolution: the deepest existing ancestor (or the path itself)
 * must resolve inside the roots.
 */
export async function confinePath(path: string, roots: string[], field: string): Promise<string> {
  const p = checkPathSyntax(path, roots, field);
  const realRoots = await Promise.all(roots.map((r) => Deno.realPath(r).catch(() => r)));
  let probe = p;
  for (;;) {
    try {
      const real = await Deno.realPath(probe);
      if (!realRoots.some((r) => within(real, r))) {
        throw new PathError(`${field} ${p} resolves outside the kubelet directories`);
      }
      return p;
    } catch (err) {
      if (err instanceof PathError) throw err;
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      const up = dirname(probe);
      if (up === probe) return p;
      probe = up;
    }
  }
}
