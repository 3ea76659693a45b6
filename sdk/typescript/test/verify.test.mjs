import assert from "node:assert/strict";
import { test } from "node:test";

import { PostbackEvent, PostbackVerificationError, verifyPostback } from "../dist/index.js";
import { newSecret, samplePayload, sign, signedPostback } from "./helpers.mjs";

const secret = newSecret();

test("a correctly signed postback returns the typed event", async () => {
  const { body, headers } = signedPostback({ secret, payload: samplePayload });
  const event = await verifyPostback({ body, headers, secret });
  assert.equal(event.event, PostbackEvent.PaymentSucceeded);
  assert.equal(event.amount, "25.00");
  assert.equal(event.paymentId, "pay_abc");
  assert.equal(event.webhookId, "msg_test1");
});

test("the body may be bytes and the headers a Headers object with any case", async () => {
  const { body, headers } = signedPostback({ secret, payload: samplePayload });
  const h = new Headers({ "Webhook-Id": headers["webhook-id"], "WEBHOOK-TIMESTAMP": headers["webhook-timestamp"], "webhook-signature": headers["webhook-signature"] });
  const event = await verifyPostback({ body: new TextEncoder().encode(body), headers: h, secret });
  assert.equal(event.id, "order-1");
});

test("a changed body is refused", async () => {
  const { body, headers } = signedPostback({ secret, payload: samplePayload });
  await assert.rejects(verifyPostback({ body: body.replace("25.00", "2500.00"), headers, secret }), PostbackVerificationError);
});

test("another secret is refused", async () => {
  const { body, headers } = signedPostback({ secret, payload: samplePayload });
  await assert.rejects(verifyPostback({ body, headers, secret: newSecret() }), PostbackVerificationError);
});

test("a timestamp older than five minutes is refused", async () => {
  const old = Math.floor(Date.now() / 1000) - 301;
  const { body, headers } = signedPostback({ secret, payload: samplePayload, timestamp: old });
  await assert.rejects(verifyPostback({ body, headers, secret }), /stale timestamp: signed \d+ s ago/);
});

test("a timestamp more than five minutes ahead is refused", async () => {
  const ahead = Math.floor(Date.now() / 1000) + 301;
  const { body, headers } = signedPostback({ secret, payload: samplePayload, timestamp: ahead });
  await assert.rejects(verifyPostback({ body, headers, secret }), /future/);
});

test("a timestamp four minutes old is accepted", async () => {
  const { body, headers } = signedPostback({ secret, payload: samplePayload, timestamp: Math.floor(Date.now() / 1000) - 240 });
  assert.equal((await verifyPostback({ body, headers, secret })).status, "succeeded");
});

test("every v1 signature is tried, so a rotated secret still verifies", async () => {
  const previous = newSecret();
  // the gateway signs with the new and the previous secret while the rotation overlaps
  const { body, headers } = signedPostback({ secret: [previous, secret], payload: samplePayload });
  assert.equal((await verifyPostback({ body, headers, secret })).event, "payment.succeeded");
  assert.equal((await verifyPostback({ body, headers, secret: previous })).event, "payment.succeeded");
});

test("signatures of other versions are ignored", async () => {
  const { body, headers } = signedPostback({ secret, payload: samplePayload });
  const v2only = { ...headers, "webhook-signature": headers["webhook-signature"].replace("v1,", "v2,") };
  await assert.rejects(verifyPostback({ body, headers: v2only, secret }), /malformed signature/);
});

test("missing headers are refused", async () => {
  const { body, headers } = signedPostback({ secret, payload: samplePayload });
  const { "webhook-id": _drop, ...rest } = headers;
  await assert.rejects(verifyPostback({ body, headers: rest, secret }), /missing header webhook-id/);
});

test("a wrong secret is refused as no matching signature, in words", async () => {
  const { body, headers } = signedPostback({ secret, payload: samplePayload });
  await assert.rejects(verifyPostback({ body, headers, secret: newSecret() }), /no matching signature: none of the 1 signature/);
});

test("a signed body that is not JSON is refused", async () => {
  const { headers } = signedPostback({ secret, payload: samplePayload });
  const body = "not json";
  const h = { ...headers, "webhook-signature": sign({ secret, id: headers["webhook-id"], timestamp: headers["webhook-timestamp"], body }) };
  await assert.rejects(verifyPostback({ body, headers: h, secret }), /not JSON/);
});

test("the signed example in the postbacks guide verifies at its own time", async () => {
  // docs/public/postbacks.md: "The signature above is real" with this secret
  const body =
    '{"event":"payment.succeeded","id":"order-1001","paymentId":"pay_3q2XbGm1yZ8Kk0L9Vb7hT6cR5aN4pWdE","status":"succeeded","amount":"100.00","currency":"USD","createdAt":"2026-01-01T10:00:00Z","updatedAt":"2026-01-01T10:01:30Z"}';
  const headers = {
    "webhook-id": "msg_2f9c1d8e7b6a5f4e3d2c1b0a",
    "webhook-timestamp": "1767261600",
    "webhook-signature": "v1,biP9mv/LQI/pMlpI3rVLAyD8/Np7CuKHY8TqubyBUKI=",
  };
  const secret = "whsec_YXBheWdhdGUtZG9jcy1leGFtcGxlLXNlY3JldC0zMmI=";
  const event = await verifyPostback({ body, headers, secret, now: new Date(1767261600 * 1000 + 60_000) });
  assert.equal(event.amount, "100.00");
  await assert.rejects(verifyPostback({ body, headers, secret }), /stale timestamp: signed \d+ s ago/);
});
