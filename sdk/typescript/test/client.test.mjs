import assert from "node:assert/strict";
import { after, test } from "node:test";

import { APayGate, APayGateError, PaymentStatus } from "../dist/index.js";
import { scriptedServer } from "./helpers.mjs";

const servers = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function gateWith(script, options = {}) {
  const server = await scriptedServer(script);
  servers.push(server);
  const gate = new APayGate({ token: "tok_test", baseUrl: `${server.url}/`, retryBaseDelayMs: 10, ...options });
  return { gate, server };
}

const created = { status: 201, body: { status: "success", id: "pay_1", url: "https://gate.example/integration/pay?id=pay_1" } };
const validationError = {
  status: 400,
  body: { status: "error", code: "validation_error", message: "The request has invalid fields.", errors: { amount: ["Too many decimals."] } },
};

test("initPayment posts JSON with the token and answers id and url", async () => {
  const { gate, server } = await gateWith([created]);
  const answer = await gate.initPayment(
    { id: "order-1", customerEmail: "a@example.com", amount: "25.00", currency: "USD", successUrl: "https://s.example/ok", errorUrl: "https://s.example/err" },
    { idempotencyKey: "key-1" },
  );
  assert.deepEqual(answer, created.body);
  const [request] = server.requests;
  assert.equal(request.method, "POST");
  assert.equal(request.url, "/api/v1/init-payment");
  assert.equal(request.headers.authorization, "Token tok_test");
  assert.equal(request.headers["content-type"], "application/json");
  assert.equal(request.headers["idempotency-key"], "key-1");
  assert.equal(JSON.parse(request.body).amount, "25.00");
});

test("initPayment without id sends one idempotency key for all its retries", async () => {
  const { gate, server } = await gateWith([{ status: 503, body: {} }, created]);
  await gate.initPayment({ amount: "1.00", currency: "USD", successUrl: "https://s.example/ok", errorUrl: "https://s.example/err" });
  assert.equal(server.requests.length, 2);
  const keys = server.requests.map((r) => r.headers["idempotency-key"]);
  assert.ok(keys[0]);
  assert.equal(keys[0], keys[1]);
});

test("initPayment refuses a number amount before any request", async () => {
  const { gate, server } = await gateWith([created]);
  await assert.rejects(
    gate.initPayment({ amount: 25.1, currency: "USD", successUrl: "https://s.example/ok", errorUrl: "https://s.example/err" }),
    TypeError,
  );
  assert.equal(server.requests.length, 0);
});

test("an error answer becomes APayGateError with status, code, message and errors, not retried", async () => {
  const { gate, server } = await gateWith([validationError]);
  const error = await gate
    .initPayment({ id: "x", amount: "1.001", currency: "USD", successUrl: "https://s.example/ok", errorUrl: "https://s.example/err" })
    .catch((e) => e);
  assert.ok(error instanceof APayGateError);
  assert.equal(error.status, 400);
  assert.equal(error.code, "validation_error");
  assert.equal(error.message, "The request has invalid fields.");
  assert.deepEqual(error.errors, { amount: ["Too many decimals."] });
  assert.equal(server.requests.length, 1);
});

test("a 404 is not retried", async () => {
  const { gate, server } = await gateWith([{ status: 404, body: { status: "error", code: "not_found", message: "No such resource.", errors: {} } }]);
  await assert.rejects(gate.getPayment("nope"), (e) => e instanceof APayGateError && e.code === "not_found" && e.status === 404);
  assert.equal(server.requests.length, 1);
});

test("a 5xx is retried with backoff and then succeeds", async () => {
  const payment = { paymentId: "pay/1", status: "pending" };
  const { gate, server } = await gateWith([{ status: 502, body: {} }, { status: 500, body: "<html>oops</html>" }, { status: 200, body: payment }]);
  assert.deepEqual(await gate.getPayment("pay/1"), payment);
  assert.equal(server.requests.length, 3);
  assert.equal(server.requests[0].url, "/api/v1/payments/pay%2F1");
});

test("retries are bounded: the last error is thrown after maxRetries", async () => {
  const busy = { status: 503, body: { status: "error", code: "provider_unavailable", message: "Provider unavailable.", errors: {} } };
  const { gate, server } = await gateWith([busy], { maxRetries: 2 });
  await assert.rejects(gate.getPayment("p"), (e) => e instanceof APayGateError && e.status === 503 && e.code === "provider_unavailable");
  assert.equal(server.requests.length, 3);
});

test("a 429 waits for Retry-After before trying again", async () => {
  const throttled = { status: 429, headers: { "Retry-After": "1" }, body: { status: "error", code: "rate_limited", message: "slow down", errors: {} } };
  const { gate, server } = await gateWith([throttled, { status: 200, body: { paymentId: "p" } }]);
  await gate.getPayment("p");
  assert.equal(server.requests.length, 2);
  assert.ok(server.requests[1].at - server.requests[0].at >= 950, "waited less than Retry-After");
});

test("a Retry-After longer than maxRetryDelayMs ends the retries with its value on the error", async () => {
  const throttled = { status: 429, headers: { "Retry-After": "120" }, body: { status: "error", code: "rate_limited", message: "slow down", errors: {} } };
  const { gate, server } = await gateWith([throttled], { maxRetryDelayMs: 1000 });
  await assert.rejects(gate.getPayment("p"), (e) => e.code === "rate_limited" && e.retryAfter === 120);
  assert.equal(server.requests.length, 1);
});

test("a network failure is retried and reported as network_error", async () => {
  const gate = new APayGate({ token: "t", baseUrl: "http://127.0.0.1:9", retryBaseDelayMs: 5, maxRetries: 1 });
  await assert.rejects(gate.getPayment("p"), (e) => e instanceof APayGateError && e.status === 0 && e.code === "network_error");
});

test("listPayments iterates every page, following next on the configured base URL", async () => {
  const page = (results, next) => ({ status: 200, body: { count: 5, next, previous: null, results } });
  const p = (n) => ({ paymentId: `pay_${n}`, status: "succeeded" });
  const { gate, server } = await gateWith([
    page([p(1), p(2)], "http://internal-host:8000/api/v1/payments?limit=2&offset=2&status=succeeded"),
    // a payment created meanwhile shifts the page: pay_2 comes again and must not repeat
    page([p(2), p(3)], "http://internal-host:8000/api/v1/payments?limit=2&offset=4&status=succeeded"),
    page([p(4)], null),
  ]);
  const seen = [];
  for await (const payment of gate.listPayments({ status: PaymentStatus.Succeeded, pageSize: 2 })) seen.push(payment.paymentId);
  assert.deepEqual(seen, ["pay_1", "pay_2", "pay_3", "pay_4"]);
  assert.deepEqual(
    server.requests.map((r) => r.url),
    [
      "/api/v1/payments?status=succeeded&limit=2",
      "/api/v1/payments?limit=2&offset=2&status=succeeded",
      "/api/v1/payments?limit=2&offset=4&status=succeeded",
    ],
  );
});

test("listPayments sends dates as ISO 8601", async () => {
  const { gate, server } = await gateWith([{ status: 200, body: { count: 0, next: null, previous: null, results: [] } }]);
  for await (const _ of gate.listPayments({ createdAfter: new Date("2026-01-02T03:04:05Z"), id: "order 1" })) {
    assert.fail("no payments expected");
  }
  assert.equal(server.requests[0].url, "/api/v1/payments?id=order+1&created_after=2026-01-02T03%3A04%3A05.000Z");
});

test("resendPostback and sendTestPostback post to their routes", async () => {
  const { gate, server } = await gateWith([
    { status: 202, body: { status: "success", paymentId: "p", webhookId: "msg_1", event: "payment.succeeded", deliveryStatus: "pending" } },
    { status: 200, body: { status: "success", delivered: true, webhookId: "msg_2", statusCode: 200, durationMs: 3, error: "", responseBody: "ok" } },
  ]);
  assert.equal((await gate.resendPostback("p")).webhookId, "msg_1");
  assert.equal((await gate.sendTestPostback({ url: "https://shop.example/postback" })).delivered, true);
  assert.deepEqual(
    server.requests.map((r) => [r.method, r.url, r.body]),
    [
      ["POST", "/api/v1/payments/p/postbacks/resend", "{}"],
      ["POST", "/api/v1/postbacks/test", '{"url":"https://shop.example/postback"}'],
    ],
  );
});

test("the constructor requires a token and a base URL", () => {
  assert.throws(() => new APayGate({ token: "", baseUrl: "https://x.example" }), TypeError);
  assert.throws(() => new APayGate({ token: "t", baseUrl: "" }), TypeError);
});

test("each kind of error is its own subclass carrying the request id", async () => {
  const sdk = await import("../dist/index.js");
  const cases = [
    [401, "invalid_token", "AuthenticationError"],
    [429, "rate_limited", "RateLimitError"],
    [400, "validation_error", "InvalidRequestError"],
    [409, "idempotency_conflict", "IdempotencyConflictError"],
    [503, "provider_unavailable", "ProviderUnavailableError"],
  ];
  for (const [status, code, kind] of cases) {
    const body = { status: "error", code, message: "m", errors: { amount: ["differs"] } };
    const fetch = async () =>
      new Response(JSON.stringify(body), {
        status,
        headers: { "Content-Type": "application/json", "X-Request-ID": "req-42", "Retry-After": "3600" },
      });
    const client = new sdk.APayGate({ token: "t", baseUrl: "https://gate.example", fetch, maxRetries: 0 });
    const error = await client.getPayment("p").then(
      () => assert.fail("no error"),
      (e) => e,
    );
    assert.ok(error instanceof sdk[kind], `${status} ${code} -> ${error.name}`);
    assert.ok(error instanceof sdk.APayGateError);
    assert.equal(error.name, kind);
    assert.equal(error.requestId, "req-42");
    assert.deepEqual(error.fields, ["amount"]);
    assert.match(String(error), /\[request req-42\]/);
  }
});

test("a network failure is a NetworkError and an HTML answer says so", async () => {
  const sdk = await import("../dist/index.js");
  const refuse = async () => {
    throw new TypeError("fetch failed");
  };
  const down = new sdk.APayGate({ token: "t", baseUrl: "https://gate.example", fetch: refuse, maxRetries: 0 });
  await assert.rejects(down.getPayment("p"), sdk.NetworkError);
  const html = async () => new Response("<!DOCTYPE html><html>", { status: 404, headers: { "Content-Type": "text/html" } });
  const wrong = new sdk.APayGate({ token: "t", baseUrl: "https://gate.example", fetch: html, maxRetries: 0 });
  await assert.rejects(wrong.getPayment("p"), (e) => e.message.includes("non-JSON HTML page") && !e.message.includes("<html"));
});
