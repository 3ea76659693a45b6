/**
 * Named constants holding the wire strings. Plain frozen objects (not TypeScript enums),
 * so they compare equal to what the API sends and work under `erasableSyntaxOnly`.
 */

/** A payment's status, as `GET /api/v1/payments/<paymentId>` and postbacks report it. */
export const PaymentStatus = Object.freeze({
  Created: "created",
  Pending: "pending",
  Succeeded: "succeeded",
  Failed: "failed",
  Expired: "expired",
  ProviderError: "provider_error",
} as const);
export type PaymentStatus = (typeof PaymentStatus)[keyof typeof PaymentStatus];

/** The `event` field of a merchant postback. */
export const PostbackEvent = Object.freeze({
  PaymentSucceeded: "payment.succeeded",
  PaymentFailed: "payment.failed",
  PaymentExpired: "payment.expired",
  PaymentFlagged: "payment.flagged",
  PostbackTest: "postback.test",
} as const);
export type PostbackEvent = (typeof PostbackEvent)[keyof typeof PostbackEvent];

/** Final statuses never change again. */
export const FINAL_STATUSES: readonly PaymentStatus[] = Object.freeze([
  PaymentStatus.Succeeded,
  PaymentStatus.Failed,
  PaymentStatus.Expired,
  PaymentStatus.ProviderError,
]);
