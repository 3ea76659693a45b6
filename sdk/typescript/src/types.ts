/** API types, taken from the generated OpenAPI types so they follow the gateway's schema. */
import type { components } from "./generated/schema.js";

type Schemas = components["schemas"];

export type Payment = Schemas["Payment"];
export type PaymentPage = Schemas["PaymentPage"];
export type PostbackState = Schemas["PostbackState"];
export type InitPaymentAnswer = Schemas["InitPaymentAnswer"];
export type PostbackResendAnswer = Schemas["PostbackResendAnswer"];
export type PostbackTestAnswer = Schemas["PostbackTestAnswer"];
export type ErrorBody = Schemas["Error"];

/** `POST /api/v1/init-payment`. Amounts are decimal strings, never floats. */
export interface InitPaymentParams {
  /** Your transaction id (≤ 128 chars). Without it there are no postbacks. */
  id?: string;
  customerEmail?: string;
  customerName?: string;
  /** Decimal string with at most the currency's minor units: `"25.00"`. */
  amount: string;
  /** ISO 4217 code, a supported crypto code, or `TeleUSD`/`TUSD`. */
  currency?: string;
  type?: "fiat" | "crypto";
  successUrl: string;
  errorUrl: string;
  postbackUrl?: string;
}

export interface RequestOptions {
  /** For requests without `id`: the same key with the same body returns the first answer. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface ListPaymentsParams {
  /** Your transaction id. */
  id?: string;
  status?: Schemas["PaymentStatus"];
  createdAfter?: Date | string;
  createdBefore?: Date | string;
  /** Page size, 1 to 200 (default 50). */
  pageSize?: number;
}
