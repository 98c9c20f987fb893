/**
 * sd_notify(3): one datagram ("READY=1", "STOPPING=1", "STATUS=...") to the unix datagram socket
 * named by NOTIFY_SOCKET (a path, or "@name" in the abstract namespace).
 *
 * Deno has no stable unix-datagram API (Deno.listenDatagram needs --unstable-net), and
 * `systemd-notify` sends from its own PID, which NotifyAccess=main rejects. So the datagram is
 * sent with libc's socket()+sendto() through Deno's stable FFI (allowed by --allow-all, also in
 * the compiled binary); when FFI is unavailable, Deno.listenDatagram is used if the runtime has it.
 */

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;

const LIBC_SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>;
let libc: Libc | undefined;

function openLibc(): Libc {
  libc ??= Deno.dlopen("libc.so.6", LIBC_SYMBOLS);
  return libc;
}

/** struct sockaddr_un for a path or an abstract ("@name") address, and its length. */
export function sockaddrUn(address: string): Uint8Array {
  const abstract = address.startsWith("@");
  const name = new TextEncoder().encode(abstract ? address.slice(1) : address);
  if (name.length === 0 || name.length > 107) {
    throw new Error(`NOTIFY_SOCKET "${address}" is not a usable unix socket address`);
  }
  const family = new Uint8Array(new Uint16Array([AF_UNIX]).buffer); // host byte order
  const out = new Uint8Array(2 + (abstract ? 1 : 0) + name.length + (abstract ? 0 : 1));
  out.set(family, 0);
  out.set(name, abstract ? 3 : 2); // abstract: sun_path[0] = 0; path: NUL-terminated
  return out;
}

function errno(lib: Libc): number {
  const p = lib.symbols.__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

function sendWithFfi(address: string, message: Uint8Array): void {
  const lib = openLibc();
  const addr = sockaddrUn(address);
  const fd = lib.symbols.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket(AF_UNIX, SOCK_DGRAM): errno ${errno(lib)}`);
  try {
    const n = Number(lib.symbols.sendto(fd, message, BigInt(message.length), 0, addr, addr.length));
    if (n < 0) throw new Error(`sendto ${address}: errno ${errno(lib)}`);
  } finally {
    lib.symbols.close(fd);
  }
}

type DatagramApi = {
  listenDatagram?: (o: { transport: "unixpacket"; path: string }) => {
    send(p: Uint8Array, a: { transport: "unixpacket"; path: string }): Promise<number>;
    close(): void;
  };
};

async function sendWithDeno(address: string, message: Uint8Array): Promise<void> {
  const listen = (Deno as unknown as DatagramApi).listenDatagram;
  if (!listen) throw new Error("no unix datagram support (FFI unavailable, no --unstable-net)");
  if (address.startsWith("@")) throw new Error("abstract NOTIFY_SOCKET needs FFI");
  const dir = await Deno.makeTempDir({ prefix: "k8shost-notify-" });
  const sock = listen({ transport: "unixpacket", path: `${dir}/s` });
  try {
    await sock.send(message, { transport: "unixpacket", path: address });
  } finally {
    sock.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Sends `state` (e.g. "READY=1\nSTATUS=serving") to NOTIFY_SOCKET. Resolves false when
 * NOTIFY_SOCKET is unset (not started by systemd with Type=notify), true once sent.
 */
export async function sdNotify(
  state: string,
  env: { get(k: string): string | undefined } = Deno.env,
): Promise<boolean> {
  const address = env.get("NOTIFY_SOCKET");
  if (!address) return false;
  const message = new TextEncoder().encode(state);
  try {
    sendWithFfi(address, message);
  } catch (ffiError) {
    try {
      await sendWithDeno(address, message);
    } catch (denoError) {
      throw new Error(
        `sd_notify to ${address} failed: ${(ffiError as Error).message}; ${
          (denoError as Error).message
        }`,
      );
    }
  }
  return true;
}
