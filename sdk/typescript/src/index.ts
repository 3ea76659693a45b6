export { APayGate } from "./client.js";
export type { APayGateOptions } from "./client.js";
export { FINAL_STATUSES, PaymentStatus, PostbackEvent } from "./constants.js";
export {
  APayGateError,
  AuthenticationError,
  IdempotencyConflictError,
  InvalidRequestError,
  NetworkError,
  PostbackVerificationError,
  ProviderUnavailableError,
  RateLimitError,
} from "./errors.js";
export type { PostbackPayload, VerifiedPostback } from "./postback.js";
export type {
  ErrorBody,
  InitPaymentAnswer,
  InitPaymentParams,
  ListPaymentsParams,
  Payment,
  PaymentPage,
  PostbackResendAnswer,
  PostbackState,
  PostbackTestAnswer,
  RequestOptions,
} from "./types.js";
export { DEFAULT_TOLERANCE_SECONDS, verifyPostback } from "./verify.js";
export type { VerifyPostbackOptions } from "./verify.js";
export { VERSION } from "./version.js";
