/**
 * OVSDB peers send JSON-RPC messages back to back with no delimiter (RFC 7047 §4), so a reader
 * must find where one JSON value ends. The splitter tracks nesting depth outside strings, keeps
 * its scan position across chunks (each byte is looked at once) and cuts the buffer once per
 * push, so a chunk carrying thousands of small messages costs linear time.
 *
 * It takes text, not bytes: the caller decodes with a streaming TextDecoder so that a UTF-8
 * sequence split between two reads is joined before it gets here.
 */
export class FramingError extends Error {
  override name = "FramingError";
}

/** A message larger than this is a broken or hostile peer (a full NB dump is a few MB). */
export const DEFAULT_MAX_MESSAGE = 256 * 1024 * 1024;

export class JsonStreamSplitter {
  private buf = "";
  /** Index in buf of the next character to scan. */
  private pos = 0;
  /** Index in buf where the message being scanned starts (-1: between messages). */
  private start = -1;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly maxMessage = DEFAULT_MAX_MESSAGE) {}

  /** Feeds a chunk; returns every complete JSON text it finishes, in order. */
  push(chunk: string): string[] {
    this.buf += chunk;
    const out: string[] = [];
    const buf = this.buf;
    let i = this.pos;
    for (; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c /* \ */) this.escaped = true;
        else if (c === 0x22 /* " */) this.inString = false;
        continue;
      }
      if (this.depth === 0) {
        if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
          this.start = i;
          this.depth = 1;
        } else if (!isSpace(c)) {
          // JSON-RPC messages are objects; anything else at top level means a lost frame.
          throw new FramingError(
            `unexpected ${JSON.stringify(buf[i])} between messages (at ${
              JSON.stringify(buf.slice(i, i + 40))
            })`,
          );
        }
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
        if (--this.depth === 0) {
          out.push(buf.slice(this.start, i + 1));
          this.start = -1;
        }
      }
    }
    // Keep only the unfinished message (if any); positions shift by what was dropped.
    if (this.start < 0) {
      this.buf = "";
      this.pos = 0;
    } else {
      this.buf = buf.slice(this.start);
      this.pos = i - this.start;
      this.start = 0;
      if (this.buf.length > this.maxMessage) {
        throw new FramingError(`message exceeds ${this.maxMessage} bytes without ending`);
      }
    }
    return out;
  }

  /** Characters held for a message not yet complete. */
  pending(): number {
    return this.buf.length;
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
