import { PostbackEvent, PostbackVerificationError, verifyPostback } from "@apaygate/sdk";

import { postbackSecret } from "$lib/server/apaygate";
import { orderRecordPostback } from "$lib/server/orders";

import type { RequestHandler } from "./$types";

/** The merchant postback endpoint: verify first, then record, then answer 2xx. */
export const POST: RequestHandler = async ({ request }) => {
  const body = await request.text(); // the raw body: the signature covers its exact bytes
  let event;
  try {
    event = await verifyPostback({ body, headers: request.headers, secret: postbackSecret() });
  } catch (e) {
    if (e instanceof PostbackVerificationError) return new Response("invalid signature", { status: 400 });
    throw e;
  }
  if (event.event === PostbackEvent.PostbackTest) return new Response("ok");
  const outcome = orderRecordPostback(event);
  // 2xx for anything authentic, so the gateway stops retrying; log what you could not match.
  if (outcome === "unknown") console.warn("postback for an unknown order", event.id, event.webhookId);
  return new Response(outcome);
};
