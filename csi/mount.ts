/**
 * Mount-table reading and the filesystem tools the node plugin drives: blkid to see whether a
 * device is formatted, mkfs (ext4, xfs), mount/umount, resize2fs and xfs_growfs. The kernel's
 * mount table (/proc/self/mountinfo) is the truth about what is mounted where.
 */
import { exec, execRaw } from "../mod/lightningstor/exec.ts";

export interface MountEntry {
  /** Path inside the source filesystem that is mounted (e.g. `/loop3` for a /dev bind). */
  root: string;
  mountPoint: string;
  options: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses /proc/self/mountinfo text (pure). */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const [left, right] = line.split(" - ");
    if (right === undefined) continue;
    const l = left.split(" ");
    const r = right.split(" ");
    out.push({
      root: unescape(l[3]),
      mountPoint: unescape(l[4]),
      options: l[5].split(","),
      fsType: r[0],
      source: unescape(r[1]),
      superOptions: (r[2] ?? "").split(","),
    });
  }
  return out;
}

export async function readMounts(): Promise<MountEntry[]> {
  return parseMountinfo(await Deno.readTextFile("/proc/self/mountinfo"));
}

/** The topmost mount at `path`, if `path` is a mount point. */
export async function mountAt(path: string): Promise<MountEntry | undefined> {
  const all = (await readMounts()).filter((m) => m.mountPoint === path);
  return all[all.length - 1];
}

export const isReadOnly = (m: MountEntry) => m.options.includes("ro");

/** True when the mount shows the device `dev` itself (a bind of the device node). */
export function isDeviceBind(m: MountEntry, dev: string): boolean {
  const base = dev.split("/").pop()!;
  return m.root === `/${base}` || m.root.endsWith(`/${base}`);
}

/** The filesystem type on `device`, "" when blank; throws if it holds a partition table. */
export async function probeFs(device: string): Promise<string> {
  const r = await execRaw("blkid", ["-p", "-o", "export", "--", device]);
  if (r.code === 2) return "";
  if (r.code !== 0) throw new Error(`blkid ${device} exited ${r.code}: ${r.stderr.trim()}`);
  const fields = Object.fromEntries(
    r.stdout.split("\n").filter((l) => l.includes("=")).map((l) => [
      l.slice(0, l.indexOf("=")),
      l.slice(l.indexOf("=") + 1),
    ]),
  );
  if (fields.TYPE) return fields.TYPE;
  if (fields.PTTYPE) throw new Error(`${device} holds a ${fields.PTTYPE} partition table`);
  return "";
}

export async function mkfs(device: string, fsType: "ext4" | "xfs"): Promise<void> {
  if (fsType === "ext4") {
    // Lazy inode-table init keeps mkfs fast on large sparse images; the kernel finishes it.
    await exec("mkfs.ext4", ["-F", "-q", "-E", "lazy_itable_init=1,lazy_journal_init=1", device]);
  } else {
    await exec("mkfs.xfs", ["-q", device]);
  }
}

export async function mountDevice(
  device: string,
  target: string,
  fsType: string,
  flags: string[],
  readOnly: boolean,
): Promise<void> {
  const opts = [...flags];
  if (readOnly) opts.push("ro");
  // Snapshots and clones share their source's XFS UUID; nouuid lets both mount.
  if (fsType === "xfs" && !opts.includes("nouuid")) opts.push("nouuid");
  const args = ["-t", fsType];
  if (opts.length) args.push("-o", opts.join(","));
  await exec("mount", [...args, "--", device, target]);
}

export async function bindMount(source: string, target: string, readOnly: boolean): Promise<void> {
  await exec("mount", ["--bind", ...(readOnly ? ["-o", "ro"] : []), "--", source, target]);
  // Older util-linux ignores ro on the first bind; remounting makes it stick.
  const m = await mountAt(target);
  if (readOnly && m && !isReadOnly(m)) {
    await exec("mount", ["-o", "remount,bind,ro", "--", target]);
  }
}

export async function unmount(target: string): Promise<void> {
  await exec("umount", ["--", target]);
}

/** Bytes the filesystem on `device` spans (its own idea of its size, not the device's). */
export async function fsSizeBytes(
  device: string,
  mountPoint: string,
  fsType: string,
): Promise<number> {
  if (fsType === "xfs") {
    const out = await exec("xfs_info", [mountPoint]);
    const m = /^data\s+=\s+bsize=(\d+)\s+blocks=(\d+)/m.exec(out);
    if (!m) throw new Error(`cannot read the size of the xfs at ${mountPoint}`);
    return Number(m[1]) * Number(m[2]);
  }
  const out = await exec("dumpe2fs", ["-h", device]);
  const count = /^Block count:\s+(\d+)/m.exec(out);
  const size = /^Block size:\s+(\d+)/m.exec(out);
  if (!count || !size) throw new Error(`cannot read the size of the filesystem on ${device}`);
  return Number(count[1]) * Number(size[1]);
}

/** Raised when the kernel refuses an online ext4 resize (the process lacks CAP_SYS_RESOURCE). */
export class OnlineResizeDenied extends Error {}

/**
 * Grows the filesystem on `device` (mounted at `mountPoint`) to fill the device. ext4 that no
 * pod has mounted is resized offline (unmount, fsck, resize2fs, mount again), which needs no
 * special capability; ext4 in use is resized online; XFS only grows online.
 */
export async function growFs(
  device: string,
  mountPoint: string,
  fsType: string,
  inUse: boolean,
  mountFlags: string[],
): Promise<void> {
  if (fsType === "xfs") {
    await exec("xfs_growfs", [mountPoint]);
    return;
  }
  if (fsType !== "ext4" && fsType !== "ext3" && fsType !== "ext2") {
    throw new Error(`cannot grow a ${fsType} filesystem`);
  }
  if (!inUse) {
    await unmount(mountPoint);
    try {
      // -p repairs only what is safe without asking; exit codes 0-2 mean the fs is consistent.
      const fsck = await execRaw("e2fsck", ["-f", "-p", device]);
      if (fsck.code > 2) {
        throw new Error(`e2fsck ${device} exited ${fsck.code}: ${fsck.stdout}${fsck.stderr}`);
      }
      await exec("resize2fs", [device]);
    } finally {
      await mountDevice(device, mountPoint, fsType, mountFlags, false);
    }
    return;
  }
  const r = await execRaw("resize2fs", [device]);
  if (r.code === 0) return;
  if (/Permission denied/i.test(r.stderr)) {
    throw new OnlineResizeDenied(
      "online ext4 resize was refused by the kernel (needs CAP_SYS_RESOURCE); unpublish to resize offline",
    );
  }
  throw new Error(`resize2fs ${device} exited ${r.code}: ${r.stderr.trim()}`);
}
