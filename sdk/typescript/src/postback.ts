/**
 * The merchant postback body, written by hand: the gateway's OpenAPI 3.0.3 schema does not
 * describe postbacks yet (they will move under OpenAPI 3.1 `webhooks`). Keep in step with
 * `delivery_payload` in the gateway's postback wire format module.
 */
import type { PaymentStatus, PostbackEvent } from "./constants.js";

export interface PostbackPayload {
  /** `payment.succeeded`, `payment.failed`, `payment.expired`, `payment.flagged` or `postback.test`. */
  event: PostbackEvent;
  /** Your transaction id (the `id` you sent to init-payment). */
  id: string;
  /** The gateway's payment id. */
  paymentId: string;
  status: PaymentStatus;
  /** Decimal string with the currency's minor units (`"25.00"`, `"1500"`). */
  amount: string;
  currency: string;
  /** Only on a payment held for review: what was actually paid. */
  paidAmount?: string;
  paidCurrency?: string;
  reviewReason?: string;
  /** ISO 8601, UTC. */
  createdAt: string;
  updatedAt: string;
}

/** What `verifyPostback` returns: the payload plus the delivery's headers. */
export interface VerifiedPostback extends PostbackPayload {
  /** `webhook-id`: stable across retries and resends of one delivery; deduplicate on it. */
  webhookId: string;
  /** `webhook-timestamp` as a Date. */
  timestamp: Date;
}
