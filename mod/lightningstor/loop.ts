/**
 * The node side of LightningStor's "loop" transport: an attachment's backing image becomes a
 * block device through losetup. Every call is idempotent: the kernel's own loop table (read back
 * with `losetup -J -l -j FILE`) is the state, so a restarted node plugin finds its devices.
 */
import { exec, ExecError } from "./exec.ts";

export interface LoopDevice {
  device: string;
  backingFile: string;
  readOnly: boolean;
}

export interface LoopConnection {
  transport: "loop";
  backingFile: string;
  readOnly: boolean;
}

/** Parses an attachment's connection_info; throws on anything but a well-formed loop transport. */
export function parseConnectionInfo(json: string): LoopConnection {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error("connection_info is not JSON");
  }
  const r = raw as Partial<LoopConnection>;
  if (r?.transport !== "loop") {
    throw new Error(
      `unsupported transport ${JSON.stringify(r?.transport)} (this node speaks loop)`,
    );
  }
  if (
    typeof r.backingFile !== "string" || !r.backingFile.startsWith("/") ||
    r.backingFile.includes("/../")
  ) {
    throw new Error("connection_info.backingFile must be an absolute path");
  }
  return { transport: "loop", backingFile: r.backingFile, readOnly: Boolean(r.readOnly) };
}

/** Loop devices currently backed by `file`. */
export async function loopsFor(file: string): Promise<LoopDevice[]> {
  const out = await exec("losetup", ["-J", "-l", "-j", file]);
  if (!out.trim()) return [];
  const parsed = JSON.parse(out) as {
    loopdevices?: Array<{ name: string; "back-file": string; ro: boolean | string }>;
  };
  return (parsed.loopdevices ?? []).map((d) => ({
    device: d.name,
    backingFile: d["back-file"].replace(/ \(deleted\)$/, ""),
    readOnly: d.ro === true || d.ro === "1",
  }));
}

/** Returns the loop device for `file`, attaching one if there is none. */
export async function attachLoop(file: string, readOnly: boolean): Promise<LoopDevice> {
  const existing = await loopsFor(file);
  const match = existing.find((d) => d.readOnly === readOnly);
  if (match) return match;
  if (existing.length > 0) {
    throw new Error(
      `${file} is already attached as ${existing[0].device} (${
        existing[0].readOnly ? "read-only" : "read-write"
      })`,
    );
  }
  const args = ["--find", "--show", ...(readOnly ? ["--read-only"] : []), "--", file];
  const device = (await exec("losetup", args)).trim();
  if (!device.startsWith("/dev/loop")) throw new Error(`losetup printed ${JSON.stringify(device)}`);
  return { device, backingFile: file, readOnly };
}

/** Detaches every loop device backed by `file` (none: nothing to do). */
export async function detachLoops(file: string): Promise<void> {
  for (const d of await loopsFor(file)) {
    try {
      await exec("losetup", ["-d", d.device]);
    } catch (err) {
      // Already gone between listing and detaching is fine.
      if (!(err instanceof ExecError && /No such device/i.test(err.stderr))) throw err;
    }
  }
}

/** Makes the loop device pick up a grown backing file. */
export async function refreshLoop(device: string): Promise<void> {
  await exec("losetup", ["-c", device]);
}

/** Size of a block device in bytes. */
export async function blockDeviceSize(device: string): Promise<number> {
  const n = Number((await exec("blockdev", ["--getsize64", device])).trim());
  if (!Number.isSafeInteger(n)) throw new Error(`blockdev gave no size for ${device}`);
  return n;
}
