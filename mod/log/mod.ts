/**
 * One structured logger for every component: JSON lines (default) or logfmt, written to
 * stderr so that stdout stays free for protocol output (CNI results, `config print`).
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "json" | "logfmt";
export type Fields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(line: string): void;
}

const stderrSink: LogSink = {
  write(line) {
    Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
  },
};

interface LoggerState {
  level: number;
  format: LogFormat;
  sink: LogSink;
}

const state: LoggerState = { level: LEVELS.info, format: "json", sink: stderrSink };

/** Sets the process-wide level, format and (for tests) the sink. */
export function configureLogging(opts: { level?: LogLevel; format?: LogFormat; sink?: LogSink }) {
  if (opts.level) state.level = LEVELS[opts.level];
  if (opts.format) state.format = opts.format;
  if (opts.sink) state.sink = opts.sink;
}

/** The process-wide level and format, e.g. for a worker thread to log the same way. */
export function loggingSettings(): { level: LogLevel; format: LogFormat } {
  const level = (Object.keys(LEVELS) as LogLevel[]).find((l) => LEVELS[l] === state.level)!;
  return { level, format: state.format };
}

export class Logger {
  constructor(readonly component: string, private readonly base: Fields = {}) {}

  /** A logger whose every line carries the extra fields. */
  with(fields: Fields): Logger {
    return new Logger(this.component, { ...this.base, ...fields });
  }

  child(component: string): Logger {
    return new Logger(`${this.component}.${component}`, this.base);
  }

  debug(msg: string, fields?: Fields) {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: Fields) {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: Fields) {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: Fields) {
    this.log("error", msg, fields);
  }

  enabled(level: LogLevel): boolean {
    return LEVELS[level] >= state.level;
  }

  log(level: LogLevel, msg: string, fields?: Fields) {
    if (LEVELS[level] < state.level) return;
    const record: Fields = {
      ts: new Date().toISOString(),
      level,
      component: this.component,
      msg,
      ...this.base,
      ...fields,
    };
    state.sink.write(state.format === "json" ? jsonLine(record) : logfmtLine(record));
  }
}

export function logger(component: string): Logger {
  return new Logger(component);
}

function plain(value: unknown): unknown {
  if (value instanceof Error) return value.message;
  return value;
}

function jsonLine(record: Fields): string {
  return JSON.stringify(record, (_k, v) => plain(v));
}

function logfmtLine(record: Fields): string {
  return Object.entries(record)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${logfmtValue(plain(v))}`)
    .join(" ");
}

function logfmtValue(value: unknown): string {
  const s = typeof value === "string" ? value : JSON.stringify(value);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

/** A short, non-reversible fingerprint for a secret, so logs can correlate without leaking it. */
export async function fingerprint(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return "sha256:" +
    Array.from(new Uint8Array(digest).slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}
