/**
 * A merchant's APayGate postback endpoint on Cloudflare Workers.
 *
 * POST /postbacks/apaygate: verify the Standard Webhooks signature, then record the payment's
 * status in KV once per webhook id (retries and resends repeat it), then answer 200.
 */
import {
  PostbackEvent,
  PostbackVerificationError,
  verifyPostback,
  type VerifiedPostback,
} from "@apaygate/sdk";

export interface Env {
  /** Your postback secret, `whsec_...` (`wrangler secret put APAYGATE_POSTBACK_SECRET`). */
  APAYGATE_POSTBACK_SECRET: string;
  /** While rotating: the previous secret, accepted until the overlap ends. */
  APAYGATE_POSTBACK_SECRET_PREVIOUS?: string;
  PAYMENTS: KVNamespace;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== "/postbacks/apaygate") return new Response("not found", { status: 404 });
    if (request.method !== "POST") {
      return new Response("method not allowed", { status: 405, headers: { Allow: "POST" } });
    }
    const secrets = [env.APAYGATE_POSTBACK_SECRET, env.APAYGATE_POSTBACK_SECRET_PREVIOUS].filter(
      (s): s is string => Boolean(s),
    );
    const body = await request.text(); // the exact bytes that were signed
    let event: VerifiedPostback;
    try {
      event = await verifyPostback({ body, headers: request.headers, secret: secrets });
    } catch (error) {
      if (error instanceof PostbackVerificationError) {
        return new Response(`invalid postback: ${error.message}`, { status: 400 });
      }
      throw error;
    }
    if (event.event === PostbackEvent.PostbackTest) return new Response("test ok");

    const seenKey = `webhook:${event.webhookId}`;
    if (await env.PAYMENTS.get(seenKey)) return new Response("duplicate");
    await env.PAYMENTS.put(
      `order:${event.id}`,
      JSON.stringify({
        paymentId: event.paymentId,
        status: event.status,
        amount: event.amount,
        currency: event.currency,
        event: event.event,
        updatedAt: event.updatedAt,
      }),
    );
    // Keep webhook ids for a week: longer than the gateway's retry window (about three days).
    await env.PAYMENTS.put(seenKey, "1", { expirationTtl: 7 * 24 * 3600 });
    return new Response("recorded");
  },
} satisfies ExportedHandler<Env>;
