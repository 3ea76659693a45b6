/**
 * An error answer from the API: `{"status": "error", "code", "message", "errors"}`.
 * Catch a subclass for the kind you handle (`instanceof RateLimitError`), or this class for all.
 */
export class APayGateError extends Error {
  /** HTTP status; 0 when no answer arrived (network failure, timeout). */
  readonly status: number;
  /** Stable machine code (`validation_error`, `invalid_token`, `rate_limited`, ...): branch on it. */
  readonly code: string;
  /** Field name to its messages; `{}` when the error is not about fields. */
  readonly errors: Readonly<Record<string, readonly string[]>>;
  /** Seconds from `Retry-After`, when the answer carried one. */
  readonly retryAfter: number | undefined;
  /** The gateway's `X-Request-ID` for the request: quote it when asking for help. */
  readonly requestId: string | undefined;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    errors?: Record<string, readonly string[]>;
    retryAfter?: number | undefined;
    requestId?: string | undefined;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.status = init.status;
    this.code = init.code;
    this.errors = init.errors ?? {};
    this.retryAfter = init.retryAfter;
    this.requestId = init.requestId;
  }

  /** The request fields the error is about (keys of `errors`), e.g. `["amount"]`. */
  get fields(): string[] {
    return Object.keys(this.errors);
  }

  /** `Name: message (field: problem) [request id]`: what a log line should say. */
  override toString(): string {
    return `${this.name}: ${describeError(this)}`;
  }
}

function describeError(init: {
  message: string;
  errors?: Record<string, readonly string[]>;
  requestId?: string | undefined;
}): string {
  let text = init.message;
  const entries = Object.entries(init.errors ?? {});
  if (entries.length > 0) text += ` (${entries.map(([k, v]) => `${k}: ${v.join(" ")}`).join("; ")})`;
  if (init.requestId) text += ` [request ${init.requestId}]`;
  return text;
}

/** 401/403: no token, an unknown or revoked one, or a disabled merchant. */
export class AuthenticationError extends APayGateError {}
/** 429: too many requests for this token; `retryAfter` says how long to wait. */
export class RateLimitError extends APayGateError {}
/** 400/404/413/415 and the like: the request itself is wrong; `fields` names the fields. */
export class InvalidRequestError extends APayGateError {}
/** 409 `idempotency_conflict`: this `id` was used with other values of `fields`. */
export class IdempotencyConflictError extends APayGateError {}
/** 502/503/504: the provider (or the gateway) could not take the payment now; retry later. */
export class ProviderUnavailableError extends APayGateError {}
/** No answer arrived: connection refused, reset or timed out (`status` 0). */
export class NetworkError extends APayGateError {}

type ErrorClass = new (init: ConstructorParameters<typeof APayGateError>[0]) => APayGateError;

/** The subclass for an error answer: by machine code first, then by HTTP status. */
export function errorClass(status: number, code: string): ErrorClass {
  if (code === "idempotency_conflict") return IdempotencyConflictError;
  if (code === "rate_limited" || status === 429) return RateLimitError;
  if (code === "network_error" || status === 0) return NetworkError;
  if (status === 401 || status === 403) return AuthenticationError;
  if (status === 502 || status === 503 || status === 504) return ProviderUnavailableError;
  if (status >= 400 && status < 500 && status !== 409) return InvalidRequestError;
  return APayGateError;
}

/** A postback that must not be trusted: bad or missing signature, stale timestamp, bad body. */
export class PostbackVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PostbackVerificationError";
  }
}
