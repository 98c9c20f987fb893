/**
 * DNS load generator, run as its own process so it does not share the server's event loop:
 *   deno run -A bench/flashdns_load.ts <port> <seconds> <inflight> <name> [<name>...]
 * Keeps <inflight> UDP queries outstanding against 127.0.0.1:<port>, cycling through the names,
 * and prints one JSON line: { queries, answered, errors, seconds, qps }.
 */
import dgram from "node:dgram";
import type { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";

const [portArg, secondsArg, inflightArg, ...names] = Deno.args;
const port = Number(portArg);
const seconds = Number(secondsArg);
const inflight = Number(inflightArg);
if (!port || !seconds || !inflight || names.length === 0) {
  console.error("usage: flashdns_load.ts <port> <seconds> <inflight> <name>...");
  Deno.exit(2);
}

const sock = dgram.createSocket("udp4");
const pending = new Map<number, number>();
let nextId = 0;
let sent = 0, answered = 0, errors = 0;
const deadline = performance.now() + seconds * 1000;
let done = false;

function send() {
  if (done) return;
  const id = nextId = (nextId + 1) & 0xffff;
  const name = names[sent % names.length];
  pending.set(id, performance.now());
  sent++;
  sock.send(
    dnsPacket.encode({ type: "query", id, flags: 0, questions: [{ type: "A", name }] }),
    port,
    "127.0.0.1",
  );
}

sock.on("message", (buf: Buffer) => {
  const id = buf.readUInt16BE(0);
  if (!pending.delete(id)) return;
  const rcode = buf[3] & 0x0f;
  if (rcode === 0 && buf.readUInt16BE(6) > 0) answered++;
  else errors++;
  if (performance.now() < deadline) send();
  else done = true;
});

await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
const start = performance.now();
for (let i = 0; i < inflight; i++) send();
// Lost datagrams would stall a slot; refill slots whose query is older than 1 s.
const sweeper = setInterval(() => {
  const now = performance.now();
  for (const [id, t] of pending) {
    if (now - t > 1000) {
      pending.delete(id);
      errors++;
      send();
    }
  }
}, 250);
while (performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
done = true;
clearInterval(sweeper);
const elapsed = (performance.now() - start) / 1000;
sock.close();
console.log(
  JSON.stringify({
    queries: sent,
    answered,
    errors,
    seconds: +elapsed.toFixed(2),
    qps: Math.round(answered / elapsed),
  }),
);
