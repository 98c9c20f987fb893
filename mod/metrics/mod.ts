/** A small Prometheus registry: counters, gauges and histograms with labels, text format 0.0.4. */
type Labels = Record<string, string>;

export interface FamilySnapshot {
  name: string;
  help: string;
  type: Family["type"];
  samples: string[];
}

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  render(): string[];
}

function labelKey(labels: Labels): string {
  return Object.keys(labels).sort().map((k) => `${k}="${escapeLabel(labels[k])}"`).join(",");
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function series(name: string, key: string, value: number): string {
  return `${name}${key ? `{${key}}` : ""} ${Number.isFinite(value) ? value : "NaN"}`;
}

export class Counter implements Family {
  readonly type = "counter";
  private values = new Map<string, number>();
  private collected = new Map<string, () => number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1) {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  /** The value is read at scrape time from a count kept elsewhere (it must only grow). */
  collect(labels: Labels, fn: () => number) {
    this.collected.set(labelKey(labels), fn);
  }
  get(labels: Labels = {}): number {
    const k = labelKey(labels);
    return this.collected.get(k)?.() ?? this.values.get(k) ?? 0;
  }
  render() {
    return [
      ...[...this.values].filter(([k]) => !this.collected.has(k)),
      ...[...this.collected].map(([k, fn]) => [k, fn()] as const),
    ].map(([k, v]) => series(this.name, k, v));
  }
}

export class Gauge implements Family {
  readonly type = "gauge";
  private values = new Map<string, number | (() => number)>();
  constructor(readonly name: string, readonly help: string) {}
  set(labels: Labels, value: number) {
    this.values.set(labelKey(labels), value);
  }
  /** The value is read at scrape time. */
  collect(labels: Labels, fn: () => number) {
    this.values.set(labelKey(labels), fn);
  }
  get(labels: Labels = {}): number | undefined {
    const v = this.values.get(labelKey(labels));
    return typeof v === "function" ? v() : v;
  }
  render() {
    return [...this.values].map(([k, v]) =>
      series(this.name, k, typeof v === "function" ? v() : v)
    );
  }
}

export class Histogram implements Family {
  readonly type = "histogram";
  private data = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[] = [
      0.0005,
      0.001,
      0.0025,
      0.005,
      0.01,
      0.025,
      0.05,
      0.1,
      0.25,
      0.5,
      1,
      2.5,
      5,
      10,
    ],
  ) {}
  observe(labels: Labels, value: number) {
    const k = labelKey(labels);
    let d = this.data.get(k);
    if (!d) this.data.set(k, d = { counts: this.buckets.map(() => 0), sum: 0, count: 0 });
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) d.counts[i]++;
    d.sum += value;
    d.count++;
  }
  render() {
    const out: string[] = [];
    for (const [k, d] of this.data) {
      const sep = k ? "," : "";
      this.buckets.forEach((b, i) =>
        out.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${d.counts[i]}`)
      );
      out.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${d.count}`);
      out.push(series(`${this.name}_sum`, k, d.sum));
      out.push(series(`${this.name}_count`, k, d.count));
    }
    return out;
  }
}

export class Registry {
  private families = new Map<string, Family>();

  counter(name: string, help: string): Counter {
    return this.register(name, () => new Counter(name, help)) as Counter;
  }
  gauge(name: string, help: string): Gauge {
    return this.register(name, () => new Gauge(name, help)) as Gauge;
  }
  histogram(name: string, help: string, buckets?: number[]): Histogram {
    return this.register(name, () => new Histogram(name, help, buckets)) as Histogram;
  }

  /** Registering the same name twice returns the first family (parts may restart). */
  private register(name: string, make: () => Family): Family {
    let f = this.families.get(name);
    if (!f) this.families.set(name, f = make());
    return f;
  }

  /** Every family with its current samples, in a form that can cross a thread (postMessage). */
  snapshot(): FamilySnapshot[] {
    return [...this.families.values()].map((f) => ({
      name: f.name,
      help: f.help,
      type: f.type,
      samples: f.render(),
    }));
  }

  /**
   * Shows families measured elsewhere (another thread's snapshot) as they were last reported;
   * a newer snapshot replaces them.
   */
  mirror(families: FamilySnapshot[]): void {
    for (const f of families) {
      this.families.set(f.name, { ...f, render: () => f.samples });
    }
  }

  render(): string {
    const lines: string[] = [];
    for (const f of this.families.values()) {
      lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.render());
    }
    return lines.join("\n") + "\n";
  }
}
