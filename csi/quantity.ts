/**
 * Kubernetes resource quantities for storage sizes ("10Gi", "500M", "1.5Gi", "2e9", "1024"),
 * parsed to whole bytes (rounded up, as the API server does for storage), and bytes rendered
 * back in the largest exact binary unit.
 */
const SUFFIX: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Bytes in a quantity; throws on anything that is not a non-negative storage quantity. */
export function parseQuantity(q: unknown): number {
  if (typeof q === "number" && Number.isFinite(q) && q >= 0) return Math.ceil(q);
  if (typeof q !== "string") throw new Error(`not a quantity: ${JSON.stringify(q)}`);
  const m = /^\+?(\d+(?:\.\d*)?|\.\d+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?)$/.exec(
    q.trim(),
  );
  if (!m) throw new Error(`not a quantity: ${JSON.stringify(q)}`);
  const base = Number(m[1]);
  const mult = m[2] ? 10 ** Number(m[2].slice(1)) : SUFFIX[m[3] ?? ""];
  const bytes = Math.ceil(base * mult);
  if (!Number.isSafeInteger(bytes)) throw new Error(`quantity ${q} is too large`);
  return bytes;
}

/** Renders bytes as a quantity: "10Gi" when exact, else the plain number. */
export function formatQuantity(bytes: number): string {
  for (const unit of ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"]) {
    const m = SUFFIX[unit];
    if (bytes >= m && bytes % m === 0) return `${bytes / m}${unit}`;
  }
  return String(bytes);
}
