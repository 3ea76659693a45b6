import { PostbackVerificationError } from "./errors.js";
import type { PostbackPayload, VerifiedPostback } from "./postback.js";

/** Standard Webhooks: refuse timestamps further than this from now, either way. */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

type HeaderValue = string | readonly string[] | undefined | null;

export interface VerifyPostbackOptions {
  /** The raw request body, exactly as received (do not re-serialise parsed JSON). */
  body: string | ArrayBuffer | Uint8Array;
  /** A `Headers` object or a plain object (Node's `req.headers`); names are case-insensitive. */
  headers: Headers | Record<string, HeaderValue>;
  /** Your postback secret, `whsec_<base64>`; several while you rotate. */
  secret: string | readonly string[];
  /** Seconds of clock difference allowed (default 300). */
  toleranceSeconds?: number;
  /** The current time, for tests. */
  now?: Date;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Verify a merchant postback (Standard Webhooks) and return its typed event.
 *
 * Checks the `webhook-timestamp` is within the tolerance, then tries every `v1,` signature in
 * the space-separated `webhook-signature` header against every secret; the comparison is
 * Web Crypto's own `verify` (constant time). Throws `PostbackVerificationError` otherwise.
 */
export async function verifyPostback(options: VerifyPostbackOptions): Promise<VerifiedPostback> {
  const { body, headers, secret } = options;
  const msgId = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  const missing = (
    [
      ["webhook-id", msgId],
      ["webhook-timestamp", timestamp],
      ["webhook-signature", signatures],
    ] as const
  )
    .filter(([, value]) => !value)
    .map(([name]) => name);
  if (!msgId || !timestamp || !signatures) {
    throw new PostbackVerificationError(
      `missing header ${missing.join(", ")}: pass the request's headers as received`,
    );
  }
  if (!/^\d{1,15}$/.test(timestamp.trim())) {
    throw new PostbackVerificationError("malformed webhook-timestamp: expected unix seconds");
  }
  const sentAt = Number(timestamp.trim());
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - sentAt) > tolerance) {
    const when = now > sentAt ? `${now - sentAt} s ago` : `${sentAt - now} s in the future`;
    throw new PostbackVerificationError(
      `stale timestamp: signed ${when}, more than ${tolerance} s from this machine's clock (a replay, or a clock that is off)`,
    );
  }

  const bodyBytes = toBytes(body);
  const signed = concat(encoder.encode(`${msgId}.${timestamp.trim()}.`), bodyBytes);
  const candidates = signatures
    .split(" ")
    .filter((part) => part.startsWith("v1,"))
    .map((part) => fromBase64(part.slice(3)))
    .filter((bytes): bytes is Uint8Array<ArrayBuffer> => bytes !== null);
  if (!candidates.length) {
    throw new PostbackVerificationError("malformed signature: webhook-signature holds no 'v1,<base64>' item");
  }

  const secrets = typeof secret === "string" ? [secret] : [...secret];
  if (!secrets.length) throw new TypeError("verifyPostback: `secret` is required");
  let verified = false;
  for (const one of secrets) {
    const key = await importKey(one);
    for (const candidate of candidates) {
      // Keep going after a match: the time taken does not depend on which signature matched.
      if (await webCrypto().subtle.verify("HMAC", key, candidate, signed)) verified = true;
    }
  }
  if (!verified) {
    throw new PostbackVerificationError(
      `no matching signature: none of the ${candidates.length} signature(s) matches this body with the ${secrets.length} secret(s) given (a wrong secret, or a body changed after it was signed: pass the raw body)`,
    );
  }

  let payload: PostbackPayload;
  try {
    payload = JSON.parse(decoder.decode(bodyBytes)) as PostbackPayload;
  } catch {
    throw new PostbackVerificationError("body is not JSON");
  }
  if (typeof payload !== "object" || payload === null || typeof payload.event !== "string") {
    throw new PostbackVerificationError("body has no event");
  }
  return { ...payload, webhookId: msgId, timestamp: new Date(sentAt * 1000) };
}

function header(headers: VerifyPostbackOptions["headers"], name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") {
    return (headers as Headers).get(name) ?? undefined;
  }
  const record = headers as Record<string, HeaderValue>;
  for (const [key, value] of Object.entries(record)) {
    if (key.toLowerCase() !== name) continue;
    if (value === undefined || value === null) return undefined;
    return typeof value === "string" ? value : value.join(" ");
  }
  return undefined;
}

/** Web Crypto: global on Workers, Deno, Bun, browsers and Node 19+ (Node 18: a flag). */
export function webCrypto(): Crypto {
  const found = (globalThis as { crypto?: Crypto }).crypto;
  if (!found?.subtle) {
    throw new TypeError(
      "@apaygate/sdk needs Web Crypto (globalThis.crypto); on Node 18 run node with --experimental-global-webcrypto",
    );
  }
  return found;
}

async function importKey(secret: string): Promise<CryptoKey> {
  const raw = fromBase64(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret);
  if (!raw || !raw.length) throw new TypeError("verifyPostback: `secret` must be whsec_<base64>");
  return webCrypto().subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
}

function toBytes(body: VerifyPostbackOptions["body"]): Uint8Array<ArrayBuffer> {
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer);
  throw new TypeError("verifyPostback: `body` must be the raw body (string, ArrayBuffer or Uint8Array)");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    const binary = atob(text.trim());
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}
