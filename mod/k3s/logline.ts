/**
 * k3s writes logrus lines (`time="..." level=info msg="..."`) and, from the embedded Kubernetes
 * components, klog lines (`I1121 05:50:00.123456   1234 file.go:12] message`). Each is mapped
 * to our level and message so they arrive in the one structured log with component=k3s.
 */
import type { Logger, LogLevel } from "../log/mod.ts";

export interface ParsedLine {
  level: LogLevel;
  msg: string;
  /** The component's own source location or logrus fields, when present. */
  fields?: Record<string, string>;
}

const LOGRUS_LEVELS: Record<string, LogLevel> = {
  trace: "debug",
  debug: "debug",
  info: "info",
  warning: "warn",
  warn: "warn",
  error: "error",
  fatal: "error",
  panic: "error",
};
const KLOG_LEVELS: Record<string, LogLevel> = { I: "info", W: "warn", E: "error", F: "error" };

/** key=value or key="quoted \"value\"" pairs, as logrus's text formatter writes them. */
function logfmtPairs(line: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const re = /([A-Za-z_][\w.-]*)=(?:"((?:[^"\\]|\\.)*)"|(\S*))/y;
  let i = 0;
  while (i < line.length) {
    while (line[i] === " ") i++;
    if (i >= line.length) break;
    re.lastIndex = i;
    const m = re.exec(line);
    if (!m) return undefined;
    out[m[1]] = m[2] !== undefined
      ? m[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c))
      : m[3];
    i = re.lastIndex;
  }
  return out;
}

export function parseK3sLine(line: string): ParsedLine {
  const klog = /^([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ ([^\]\s]+)\] ?(.*)$/.exec(line);
  if (klog) return { level: KLOG_LEVELS[klog[1]], msg: klog[3], fields: { source: klog[2] } };
  if (line.startsWith("time=")) {
    const pairs = logfmtPairs(line);
    if (pairs && pairs.msg !== undefined) {
      const { time: _time, level, msg, ...rest } = pairs;
      return {
        level: LOGRUS_LEVELS[level ?? "info"] ?? "info",
        msg,
        ...(Object.keys(rest).length ? { fields: rest } : {}),
      };
    }
  }
  return { level: "info", msg: line };
}

export interface LineForwarder {
  /** Resolves at the end of the stream. */
  done: Promise<void>;
  /** Ends forwarding early (a process outside k3s's group kept the pipe open). */
  cancel(): Promise<void>;
}

/** Re-emits every line of a child's output through `log`, with its level and `stream`. */
export function forwardLines(
  stream: ReadableStream<Uint8Array>,
  log: Logger,
  name: string,
): LineForwarder {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const emit = (line: string) => {
    if (line === "") return;
    const p = parseK3sLine(line);
    log.log(p.level, p.msg, { stream: name, ...p.fields });
  };
  const done = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          emit(buf.slice(0, nl).replace(/\r$/, ""));
          buf = buf.slice(nl + 1);
        }
      }
    } catch {
      // cancelled
    } finally {
      emit(buf);
    }
  })();
  return { done, cancel: () => reader.cancel().catch(() => {}) };
}
