import { APayGateError, NetworkError, errorClass } from "./errors.js";
import { webCrypto } from "./verify.js";
import type {
  InitPaymentAnswer,
  InitPaymentParams,
  ListPaymentsParams,
  Payment,
  PaymentPage,
  PostbackResendAnswer,
  PostbackTestAnswer,
  RequestOptions,
} from "./types.js";
import { VERSION } from "./version.js";

export interface APayGateOptions {
  /** An API token (`issue_token`); test tokens act on sandbox payments only. */
  token: string;
  /** The gateway's address, e.g. `https://pay.example.com`. */
  baseUrl: string;
  /** Tries after the first for 429, 5xx and network failures (default 2; 0 turns retries off). */
  maxRetries?: number;
  /** First backoff step in ms, doubled each retry, with jitter (default 500). */
  retryBaseDelayMs?: number;
  /** The longest wait between tries; a longer `Retry-After` ends the retries (default 30000). */
  maxRetryDelayMs?: number;
  /** Per-try timeout in ms (default 30000). */
  timeoutMs?: number;
  /** A `fetch` to use instead of the global one (tests, custom agents). */
  fetch?: typeof fetch;
}

type Method = "GET" | "POST";

interface Call {
  method: Method;
  path: string;
  query?: URLSearchParams;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

const RETRYABLE = (status: number): boolean => status === 429 || status >= 500;

/** The Merchant API v1 client. One instance per token; safe to share. */
export class APayGate {
  readonly baseUrl: string;
  readonly #token: string;
  readonly #maxRetries: number;
  readonly #baseDelay: number;
  readonly #maxDelay: number;
  readonly #timeout: number;
  readonly #fetch: typeof fetch;

  constructor(options: APayGateOptions) {
    if (!options?.token) throw new TypeError("APayGate: `token` is required");
    if (!options.baseUrl) throw new TypeError("APayGate: `baseUrl` is required");
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#token = options.token;
    this.#maxRetries = Math.max(0, Math.floor(options.maxRetries ?? 2));
    this.#baseDelay = options.retryBaseDelayMs ?? 500;
    this.#maxDelay = options.maxRetryDelayMs ?? 30_000;
    this.#timeout = options.timeoutMs ?? 30_000;
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new TypeError("APayGate: no fetch available");
    // Workers' fetch throws "Illegal invocation" when called with another `this`.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** `POST /api/v1/init-payment`: create a payment; send the shopper to the answer's `url`. */
  async initPayment(params: InitPaymentParams, options: RequestOptions = {}): Promise<InitPaymentAnswer> {
    if (typeof (params as { amount: unknown }).amount !== "string") {
      throw new TypeError('APayGate: `amount` must be a decimal string such as "25.00", not a number');
    }
    const headers: Record<string, string> = {};
    // Retries must not create a second payment: without `id`, use a key for the whole call.
    const key = options.idempotencyKey ?? (params.id ? undefined : randomKey());
    if (key) headers["Idempotency-Key"] = key;
    return this.#call<InitPaymentAnswer>({
      method: "POST",
      path: "/api/v1/init-payment",
      body: params,
      headers,
      signal: options.signal,
    });
  }

  /** `GET /api/v1/payments/<paymentId>`. */
  async getPayment(paymentId: string, options: Pick<RequestOptions, "signal"> = {}): Promise<Payment> {
    return this.#call<Payment>({
      method: "GET",
      path: `/api/v1/payments/${encodeURIComponent(paymentId)}`,
      signal: options.signal,
    });
  }

  /** Every payment matching the filters, page after page (`GET /api/v1/payments`). */
  async *listPayments(
    params: ListPaymentsParams = {},
    options: Pick<RequestOptions, "signal"> = {},
  ): AsyncGenerator<Payment, void, undefined> {
    let query: URLSearchParams | null = listQuery(params);
    // Offset pages shift when payments are created meanwhile; never yield one twice.
    const seen = new Set<string>();
    while (query) {
      const page: PaymentPage = await this.#call<PaymentPage>({
        method: "GET",
        path: "/api/v1/payments",
        query,
        signal: options.signal,
      });
      for (const payment of page.results) {
        if (seen.has(payment.paymentId)) continue;
        seen.add(payment.paymentId);
        yield payment;
      }
      // Follow `next` by its query only: its host is whatever the gateway saw, which a
      // proxy in front of it may have rewritten.
      query = page.next && page.results.length ? new URL(page.next).searchParams : null;
    }
  }

  /** `POST /api/v1/payments/<paymentId>/postbacks/resend`: queue the latest postback again. */
  async resendPostback(paymentId: string, options: Pick<RequestOptions, "signal"> = {}): Promise<PostbackResendAnswer> {
    return this.#call<PostbackResendAnswer>({
      method: "POST",
      path: `/api/v1/payments/${encodeURIComponent(paymentId)}/postbacks/resend`,
      body: {},
      signal: options.signal,
    });
  }

  /** `POST /api/v1/postbacks/test`: sign and send a `postback.test` to `url` now. */
  async sendTestPostback(params: { url: string }, options: Pick<RequestOptions, "signal"> = {}): Promise<PostbackTestAnswer> {
    return this.#call<PostbackTestAnswer>({
      method: "POST",
      path: "/api/v1/postbacks/test",
      body: { url: params.url },
      signal: options.signal,
    });
  }

  async #call<T>(call: Call): Promise<T> {
    const url = this.baseUrl + call.path + (call.query && [...call.query].length ? `?${call.query}` : "");
    const headers: Record<string, string> = {
      Accept: "application/json",
      Authorization: `Token ${this.#token}`,
      "User-Agent": `apaygate-sdk-typescript/${VERSION}`,
      ...call.headers,
    };
    let body: string | undefined;
    if (call.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(call.body);
    }
    for (let attempt = 0; ; attempt++) {
      let error: APayGateError;
      try {
        const response = await this.#send(url, { method: call.method, headers, body }, call.signal);
        if (response.ok) return (await response.json()) as T;
        error = await errorFrom(response);
        if (!RETRYABLE(response.status)) throw error;
      } catch (caught) {
        if (caught instanceof APayGateError && !RETRYABLE(caught.status) && caught.status !== 0) throw caught;
        if (call.signal?.aborted) throw caught;
        error =
          caught instanceof APayGateError
            ? caught
            : new NetworkError({ status: 0, code: "network_error", message: describe(caught), cause: caught });
      }
      if (attempt >= this.#maxRetries) throw error;
      const backoff = Math.min(this.#maxDelay, this.#baseDelay * 2 ** attempt) * (0.5 + Math.random() / 2);
      const retryAfter = error.retryAfter === undefined ? 0 : error.retryAfter * 1000;
      if (retryAfter > this.#maxDelay) throw error;
      await sleep(Math.max(backoff, retryAfter), call.signal);
    }
  }

  async #send(url: string, init: RequestInit, signal: AbortSignal | undefined): Promise<Response> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`timed out after ${this.#timeout} ms`)), this.#timeout);
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (signal?.aborted) throw signal.reason ?? new Error("aborted");
      const response = await this.#fetch(url, { ...init, signal: controller.signal, redirect: "manual" });
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel();
        throw new APayGateError({
          status: response.status,
          code: "unexpected_redirect",
          message: `The API answered ${response.status}; check baseUrl`,
        });
      }
      return response;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

function listQuery(params: ListPaymentsParams): URLSearchParams {
  const query = new URLSearchParams();
  if (params.id !== undefined) query.set("id", params.id);
  if (params.status !== undefined) query.set("status", params.status);
  if (params.createdAfter !== undefined) query.set("created_after", isoDate(params.createdAfter));
  if (params.createdBefore !== undefined) query.set("created_before", isoDate(params.createdBefore));
  if (params.pageSize !== undefined) query.set("limit", String(params.pageSize));
  return query;
}

const isoDate = (value: Date | string): string => (value instanceof Date ? value.toISOString() : value);

async function errorFrom(response: Response): Promise<APayGateError> {
  const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
  const requestId = response.headers.get("X-Request-ID") ?? undefined;
  const text = await response.text().catch(() => "");
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  if (isErrorBody(data)) {
    const Kind = errorClass(response.status, data.code);
    return new Kind({
      status: response.status,
      code: data.code,
      message: data.message,
      errors: data.errors ?? {},
      retryAfter,
      requestId,
    });
  }
  const kind = (response.headers.get("Content-Type") ?? "").includes("html") ? "HTML page" : "body";
  const Kind = errorClass(response.status, "unexpected_response");
  return new Kind({
    status: response.status,
    code: "unexpected_response",
    message: `HTTP ${response.status} with a non-JSON ${kind}: is baseUrl the gateway's address?`,
    retryAfter,
    requestId,
  });
}

function isErrorBody(
  data: unknown,
): data is { code: string; message: string; errors?: Record<string, string[]> } {
  if (typeof data !== "object" || data === null) return false;
  const d = data as Record<string, unknown>;
  return typeof d.code === "string" && typeof d.message === "string";
}

/** Read `Retry-After`: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const when = Date.parse(trimmed);
  return Number.isNaN(when) ? undefined : Math.max(0, (when - Date.now()) / 1000);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function randomKey(): string {
  return `sdk_${webCrypto().randomUUID()}`;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}
