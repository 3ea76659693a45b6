/** An error answer from the API: `{"status": "error", "code", "message", "errors"}`. */
export class APayGateError extends Error {
  /** HTTP status; 0 when no answer arrived (network failure, timeout). */
  readonly status: number;
  /** Stable machine code (`validation_error`, `invalid_token`, `rate_limited`, ...): branch on it. */
  readonly code: string;
  /** Field name to its messages; `{}` when the error is not about fields. */
  readonly errors: Readonly<Record<string, readonly string[]>>;
  /** Seconds from `Retry-After`, when the answer carried one. */
  readonly retryAfter: number | undefined;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    errors?: Record<string, readonly string[]>;
    retryAfter?: number | undefined;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "APayGateError";
    this.status = init.status;
    this.code = init.code;
    this.errors = init.errors ?? {};
    this.retryAfter = init.retryAfter;
  }
}

/** A postback that must not be trusted: bad or missing signature, stale timestamp, bad body. */
export class PostbackVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PostbackVerificationError";
  }
}
