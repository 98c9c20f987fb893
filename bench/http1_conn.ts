/**
 * A kept-alive HTTP/1.1 connection over TLS (with a client certificate) for the load
 * generators: each request goes out in ONE write with TCP_NODELAY, as Go's net/http (and so
 * kube-apiserver) sends it. Deno's fetch writes headers and body separately with Nagle on, and
 * the second write then waits for the server's delayed ACK: 40 ms stalls that are the client's,
 * not the server's. Bodies must come with content-length (no chunked encoding).
 */
const CRLF2 = new Uint8Array([13, 10, 13, 10]);

export interface TlsOptions {
  caCerts: string[];
  cert: string;
  key: string;
}

function indexOf(buf: Uint8Array, end: number, pat: Uint8Array): number {
  outer: for (let i = 0; i + pat.length <= end; i++) {
    for (let j = 0; j < pat.length; j++) if (buf[i + j] !== pat[j]) continue outer;
    return i;
  }
  return -1;
}

export class Http1Conn {
  #buf = new Uint8Array(64 * 1024);
  #len = 0;
  readonly #enc = new TextEncoder();
  readonly #dec = new TextDecoder();

  private constructor(private readonly conn: Deno.TlsConn, private readonly host: string) {}

  static async open(url: URL, tls: TlsOptions): Promise<Http1Conn> {
    const conn = await Deno.connectTls({
      hostname: url.hostname,
      port: Number(url.port || 443),
      caCerts: tls.caCerts,
      cert: tls.cert,
      key: tls.key,
    });
    (conn as unknown as { setNoDelay?(on: boolean): void }).setNoDelay?.(true);
    await conn.handshake();
    return new Http1Conn(conn, url.host);
  }

  async post(
    path: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<{ status: number; body: string }> {
    const payload = this.#enc.encode(body);
    const head = [
      `POST ${path} HTTP/1.1`,
      `host: ${this.host}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      `content-length: ${payload.length}`,
      "",
      "",
    ].join("\r\n");
    const h = this.#enc.encode(head);
    const out = new Uint8Array(h.length + payload.length);
    out.set(h);
    out.set(payload, h.length);
    for (let off = 0; off < out.length;) off += await this.conn.write(out.subarray(off));
    return await this.#response();
  }

  async #fill(): Promise<void> {
    if (this.#len === this.#buf.length) {
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf);
      this.#buf = bigger;
    }
    const n = await this.conn.read(this.#buf.subarray(this.#len));
    if (n === null) throw new Error("connection closed by the server");
    this.#len += n;
  }

  async #response(): Promise<{ status: number; body: string }> {
    let end: number;
    while ((end = indexOf(this.#buf, this.#len, CRLF2)) < 0) await this.#fill();
    const head = this.#dec.decode(this.#buf.subarray(0, end));
    const status = Number(head.slice(9, 12));
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
    if (!Number.isFinite(length)) throw new Error(`response without content-length: ${head}`);
    const total = end + 4 + length;
    while (this.#len < total) await this.#fill();
    const body = this.#dec.decode(this.#buf.subarray(end + 4, total));
    this.#buf.copyWithin(0, total, this.#len);
    this.#len -= total;
    return { status, body };
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }
}
