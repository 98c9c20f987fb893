/**
 * Active health probes: a TCP connect, or an HTTP/1.1 GET whose status line must be 2xx or 3xx.
 * Written on raw sockets so a probe opens exactly one connection and never reuses one.
 */

/** Deno.connect bounded by a deadline; a late connection is closed rather than leaked. */
export async function connectWithin(
  hostname: string,
  port: number,
  timeoutMs: number,
): Promise<Deno.TcpConn> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = Deno.connect({ hostname, port });
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`connect to ${hostname}:${port} timed out`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([pending, expired]);
  } catch (err) {
    pending.then((c) => c.close(), () => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export interface ProbeSpec {
  type: "tcp" | "http";
  address: string;
  port: number;
  path: string;
  timeoutMs: number;
}

/** Resolves true when the member answers in time; never rejects. */
export async function probe(spec: ProbeSpec): Promise<boolean> {
  const deadline = Date.now() + spec.timeoutMs;
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await connectWithin(spec.address, spec.port, spec.timeoutMs);
    if (spec.type === "tcp") return true;
    return await httpStatusOk(conn, spec, deadline);
  } catch {
    return false;
  } finally {
    try {
      conn?.close();
    } catch { /* already closed */ }
  }
}

async function httpStatusOk(
  conn: Deno.TcpConn,
  spec: ProbeSpec,
  deadline: number,
): Promise<boolean> {
  const host = spec.address.includes(":") ? `[${spec.address}]` : spec.address;
  const request = `GET ${spec.path} HTTP/1.1\r\nHost: ${host}:${spec.port}\r\n` +
    `User-Agent: fiberlb-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n`;
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, Math.max(1, deadline - Date.now()));
  try {
    await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(256);
    let head = "";
    while (!head.includes("\r\n") && head.length < 256) {
      const n = await conn.read(buf);
      if (n === null) break;
      head += new TextDecoder().decode(buf.subarray(0, n));
    }
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    return !!m && Number(m[1]) >= 200 && Number(m[1]) < 400;
  } finally {
    clearTimeout(timer);
  }
}
