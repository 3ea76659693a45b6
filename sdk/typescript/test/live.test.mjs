// The SDK against a live gateway with the sandbox provider: init-payment, the sandbox Pay,
// the signed postback received and verified, status read back, paginated list, errors.
// Needs GATEWAY_URL, APAYGATE_TOKEN and POSTBACK_SECRET (tests/sdk starts the gateway);
// skipped without them. POSTBACK_CAPTURE_FILE, when set, receives the real postbacks
// (body and headers) for the workerd tests.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";

import { APayGate, APayGateError, PaymentStatus, PostbackEvent, verifyPostback } from "../dist/index.js";

const { GATEWAY_URL, APAYGATE_TOKEN, POSTBACK_SECRET, POSTBACK_CAPTURE_FILE } = process.env;
const live = Boolean(GATEWAY_URL && APAYGATE_TOKEN && POSTBACK_SECRET);
const run = `ts-${Date.now().toString(36)}`;

/** The merchant's postback endpoint: verifies with the SDK, records, answers 200 or 400. */
function startShop() {
  const received = [];
  const captured = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString("utf8");
    captured.push({ body, headers: req.headers });
    try {
      received.push(await verifyPostback({ body, headers: req.headers, secret: POSTBACK_SECRET }));
      res.writeHead(200).end("ok");
    } catch (error) {
      received.push({ rejected: String(error) });
      res.writeHead(400).end("bad signature");
    }
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ url: `http://127.0.0.1:${server.address().port}/postback`, received, captured, server }),
    ),
  );
}

async function waitFor(predicate, what, timeoutMs = 40_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = predicate();
    if (found) return found;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Press a button on the sandbox's hosted page, as the shopper would. */
async function payInSandbox(wrapperUrl, outcome) {
  const redirect = await fetch(wrapperUrl, { redirect: "manual" });
  assert.equal(redirect.status, 302, "the wrapper link redirects to the provider");
  const payUrl = new URL(redirect.headers.get("location"), wrapperUrl);
  assert.match(payUrl.pathname, /^\/sandbox\/pay\//);
  const page = await fetch(payUrl);
  const html = await page.text();
  const csrf = html.match(/name="csrfmiddlewaretoken" value="([^"]+)"/)?.[1];
  assert.ok(csrf, "the sandbox page has a CSRF token");
  const cookie = page.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const done = await fetch(payUrl, {
    method: "POST",
    redirect: "manual",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrfmiddlewaretoken: csrf, outcome }),
  });
  assert.equal(done.status, 302, `sandbox ${outcome} answered ${done.status}`);
  return done.headers.get("location");
}

describe("against a live gateway", { skip: !live && "GATEWAY_URL, APAYGATE_TOKEN, POSTBACK_SECRET not set" }, () => {
  let gate;
  let shop;
  let paid;

  before(async () => {
    gate = new APayGate({ token: APAYGATE_TOKEN, baseUrl: GATEWAY_URL, retryBaseDelayMs: 50 });
    shop = await startShop();
  });

  after(() => {
    if (POSTBACK_CAPTURE_FILE && shop) writeFileSync(POSTBACK_CAPTURE_FILE, JSON.stringify(shop.captured, null, 2));
    shop?.server.close();
  });

  test("a paid payment sends a postback the SDK verifies, and its status reads succeeded", async () => {
    // given a payment made through the SDK
    const answer = await gate.initPayment(
      {
        id: `${run}-paid`,
        customerEmail: "shopper@example.com",
        amount: "25.00",
        currency: "USD",
        successUrl: "https://shop.example/ok",
        errorUrl: "https://shop.example/err",
        postbackUrl: shop.url,
      },
      { idempotencyKey: `${run}-key` },
    );
    assert.equal(answer.status, "success");
    assert.match(answer.url, /\/integration\/pay\?id=/);
    paid = answer.id;

    // when the shopper pays in the sandbox
    const back = await payInSandbox(answer.url, "success");
    assert.match(back, /\/integration\/success\?id=/);

    // then the worker delivers a postback that verifies, with the typed event
    const event = await waitFor(() => shop.received.find((e) => e.paymentId === paid || e.rejected), "the postback");
    assert.equal(event.rejected, undefined, event.rejected);
    assert.equal(event.event, PostbackEvent.PaymentSucceeded);
    assert.equal(event.status, PaymentStatus.Succeeded);
    assert.equal(event.id, `${run}-paid`);
    assert.equal(event.amount, "25.00");
    assert.equal(event.currency, "USD");

    const payment = await gate.getPayment(paid);
    assert.equal(payment.status, PaymentStatus.Succeeded);
    assert.equal(payment.amount, "25.00");
    assert.equal(payment.id, `${run}-paid`);
  });

  test("the same id again answers the same payment", async () => {
    const again = await gate.initPayment({
      id: `${run}-paid`,
      customerEmail: "shopper@example.com",
      amount: "25.00",
      currency: "USD",
      successUrl: "https://shop.example/ok",
      errorUrl: "https://shop.example/err",
      postbackUrl: shop.url,
    });
    assert.equal(again.id, paid);
  });

  test("a declined payment sends payment.failed", async () => {
    const answer = await gate.initPayment({
      id: `${run}-declined`,
      amount: "1500",
      currency: "JPY",
      successUrl: "https://shop.example/ok",
      errorUrl: "https://shop.example/err",
      postbackUrl: shop.url,
    });
    await payInSandbox(answer.url, "failure");
    const event = await waitFor(() => shop.received.find((e) => e.paymentId === answer.id), "the failed postback");
    assert.equal(event.event, PostbackEvent.PaymentFailed);
    assert.equal(event.amount, "1500");
    assert.equal((await gate.getPayment(answer.id)).status, PaymentStatus.Failed);
  });

  test("resendPostback delivers the same webhook-id again", async () => {
    const first = shop.received.find((e) => e.paymentId === paid);
    const answer = await gate.resendPostback(paid);
    assert.equal(answer.webhookId, first.webhookId);
    await waitFor(() => shop.received.filter((e) => e.paymentId === paid).length >= 2, "the resent postback");
    const again = shop.received.filter((e) => e.paymentId === paid)[1];
    assert.equal(again.webhookId, first.webhookId);
  });

  test("sendTestPostback delivers a postback.test the SDK verifies", async () => {
    const answer = await gate.sendTestPostback({ url: shop.url });
    assert.equal(answer.delivered, true, JSON.stringify(answer));
    const event = shop.received.find((e) => e.event === PostbackEvent.PostbackTest);
    assert.ok(event, "test postback received and verified");
    assert.equal(event.webhookId, answer.webhookId);
  });

  test("listPayments walks every page and filters by status", async () => {
    for (let i = 0; i < 3; i++) {
      await gate.initPayment({ id: `${run}-list-${i}`, amount: "2.00", currency: "USD", successUrl: "https://shop.example/ok", errorUrl: "https://shop.example/err" });
    }
    const all = [];
    for await (const p of gate.listPayments({ pageSize: 2 })) all.push(p);
    const ids = all.map((p) => p.id);
    for (const id of [`${run}-paid`, `${run}-declined`, `${run}-list-0`, `${run}-list-1`, `${run}-list-2`]) {
      assert.ok(ids.includes(id), `${id} listed`);
    }
    assert.equal(new Set(all.map((p) => p.paymentId)).size, all.length, "no payment twice");

    const succeeded = [];
    for await (const p of gate.listPayments({ status: PaymentStatus.Succeeded, pageSize: 1 })) succeeded.push(p);
    assert.ok(succeeded.length >= 1);
    assert.ok(succeeded.every((p) => p.status === PaymentStatus.Succeeded));
    assert.ok(succeeded.some((p) => p.paymentId === paid));
  });

  test("a validation error maps to APayGateError with field errors", async () => {
    const error = await gate
      .initPayment({ id: `${run}-bad`, amount: "1.001", currency: "USD", successUrl: "https://shop.example/ok", errorUrl: "https://shop.example/err" })
      .catch((e) => e);
    assert.ok(error instanceof APayGateError, String(error));
    assert.equal(error.status, 400);
    assert.equal(error.code, "validation_error");
    assert.ok(error.errors.amount?.length, JSON.stringify(error.errors));
  });

  test("an unknown payment is a 404 not_found", async () => {
    await assert.rejects(gate.getPayment("pay_does_not_exist"), (e) => e instanceof APayGateError && e.status === 404 && e.code === "not_found");
  });

  test("the payment answer carries the currency's minor units", async () => {
    assert.equal((await gate.getPayment(paid)).amount, "25.00");
  });

  test("a wrong token is a 401", async () => {
    const stranger = new APayGate({ token: "not-a-real-token", baseUrl: GATEWAY_URL });
    await assert.rejects(stranger.getPayment(paid), (e) => e instanceof APayGateError && e.status === 401);
  });
});
