/** Shared by the dispatch and launcher tests: running a program, a Deno prefix without npm. */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; clearEnv?: boolean; cwd?: string } = {},
): Promise<RunResult> {
  const out = await new Deno.Command(cmd, {
    args,
    env: opts.env,
    clearEnv: opts.clearEnv,
    cwd: opts.cwd,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

export const DENO_VERSION = "2.9.6";

export function denoPlatform(): string {
  return Deno.build.arch === "aarch64" ? "linux-arm64-glibc" : "linux-x64-glibc";
}

/**
 * A K8SHOST_DENO_PREFIX laid out as scripts/deno's npm install leaves it, holding the running
 * deno, so launcher tests neither download nor depend on the developer's own install.
 */
export async function fakeDenoPrefix(dir: string): Promise<string> {
  const prefix = `${dir}/deno-prefix`;
  const binDir = `${prefix}/${DENO_VERSION}/node_modules/@deno/${denoPlatform()}`;
  await Deno.mkdir(binDir, { recursive: true });
  await Deno.symlink(Deno.execPath(), `${binDir}/deno`);
  return prefix;
}
