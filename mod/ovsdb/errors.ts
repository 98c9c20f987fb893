/** Errors of the OVSDB client, each saying which request or operation failed and why. */

/** The server answered a request with a JSON-RPC error, or an operation failed. */
export class OvsdbError extends Error {
  override name = "OvsdbError";
  constructor(
    message: string,
    /** The OVSDB <error> string (`constraint violation`, `timed out`, ...). */
    readonly error?: string,
    readonly details?: string,
  ) {
    super(message);
  }
}

/** The connection is gone (closed by either side, or the peer stopped answering echoes). */
export class ConnectionClosedError extends OvsdbError {
  override name = "ConnectionClosedError";
}

/** A request got no answer within its deadline. */
export class RequestTimeoutError extends OvsdbError {
  override name = "RequestTimeoutError";
}

/**
 * A transact whose JSON-RPC call succeeded but whose transaction did not: one operation
 * failed (RFC 7047 §4.1.3: its result element is an error and later ones are null), or every
 * operation succeeded and the commit failed (the extra element after the last operation).
 */
export class TransactError extends OvsdbError {
  override name = "TransactError";
  constructor(
    message: string,
    error: string,
    details: string | undefined,
    /** Index of the failed operation; ops.length for a failed commit. */
    readonly opIndex: number,
    readonly op: unknown,
  ) {
    super(message, error, details);
  }

  /** The transaction lost a race a retry can win (a wait condition or a unique index). */
  get retryable(): boolean {
    return this.error === "timed out" || this.error === "constraint violation";
  }
}
