/**
 * TX checksum offload off on a veth end. On the userspace (netdev) datapath a packet leaves
 * the sending veth with a partial checksum the kernel expected hardware to fill in; ovs-vswitchd
 * forwards it as is and the receiver drops it — ICMP works, TCP silently does not.
 */
export class EthtoolError extends Error {
  override name = "EthtoolError";
}

/** `ethtool ARGS`, inside `netns` (a path, or a name under /run/netns) when given. */
async function ethtool(args: string[], netns?: string): Promise<string> {
  const pre = netns === undefined
    ? []
    : netns.includes("/")
    ? ["nsenter", `--net=${netns}`]
    : ["ip", "netns", "exec", netns];
  const cmd = [...pre, "ethtool", ...args];
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C" },
    }).output();
  } catch (e) {
    throw new EthtoolError(`${cmd[0]} could not run (${e instanceof Error ? e.message : e})`);
  }
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new EthtoolError(
      `${cmd.join(" ")}: ${err || `exit ${out.code}`} (is ethtool installed?)`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** Runs `ethtool -K <dev> tx off`. */
export async function disableTxOffload(dev: string, netns?: string): Promise<void> {
  await ethtool(["-K", dev, "tx", "off"], netns);
}

/** Whether TX checksumming is on for `dev` (`ethtool -k`), for checks and tests. */
export async function txChecksumming(dev: string, netns?: string): Promise<boolean> {
  const m = /^tx-checksumming:\s+(on|off)/m.exec(await ethtool(["-k", dev], netns));
  if (!m) throw new EthtoolError(`cannot read tx-checksumming of ${dev}`);
  return m[1] === "on";
}
