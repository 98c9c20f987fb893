/**
 * Running the host tools the data plane needs (losetup, mkfs, mount, blkid, resize2fs). Output
 * is captured, never inherited; a failure carries the tool's stderr so callers can surface it.
 */
export class ExecError extends Error {
  constructor(
    readonly command: string,
    readonly code: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${command} exited ${code}: ${(stderr || stdout).trim().slice(0, 500)}`);
  }
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args…`; resolves with the result whatever the exit code. */
export async function execRaw(cmd: string, args: string[]): Promise<ExecResult> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new ExecError(cmd, 127, "", `${cmd}: command not found (install it on this host)`);
    }
    throw err;
  }
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs `cmd args…` and returns stdout; a non-zero exit throws ExecError. */
export async function exec(cmd: string, args: string[]): Promise<string> {
  const r = await execRaw(cmd, args);
  if (r.code !== 0) throw new ExecError([cmd, ...args].join(" "), r.code, r.stdout, r.stderr);
  return r.stdout;
}
