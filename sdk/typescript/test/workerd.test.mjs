// The SDK inside workerd (Cloudflare's runtime) through miniflare: the postback verifier on
// postbacks, and the client's fetch. POSTBACK_FIXTURE (JSON list of {body, headers}) with
// POSTBACK_SECRET feeds real postbacks signed by a running gateway; tests/sdk sets both.
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { Miniflare } from "miniflare";

import { newSecret, samplePayload, signedPostback } from "./helpers.mjs";

const dist = fileURLToPath(new URL("../dist/", import.meta.url));
const { POSTBACK_FIXTURE, POSTBACK_SECRET } = process.env;
const localSecret = newSecret();

const WORKER = `
import { APayGate, APayGateError, verifyPostback, PostbackVerificationError } from "./index.js";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const runtime = navigator.userAgent;
    if (url.pathname === "/verify") {
      const secret = request.headers.get("x-test-secret");
      const body = await request.text();
      try {
        const event = await verifyPostback({ body, headers: request.headers, secret });
        return Response.json({ runtime, ok: true, event });
      } catch (error) {
        const status = error instanceof PostbackVerificationError ? 400 : 500;
        return Response.json({ runtime, ok: false, error: error.name, message: error.message }, { status });
      }
    }
    if (url.pathname === "/payment") {
      const gate = new APayGate({ token: "tok_worker", baseUrl: "https://gate.example", retryBaseDelayMs: 1 });
      try {
        return Response.json({ runtime, payment: await gate.getPayment(url.searchParams.get("id")) });
      } catch (error) {
        if (!(error instanceof APayGateError)) throw error;
        return Response.json({ runtime, status: error.status, code: error.code }, { status: 502 });
      }
    }
    return new Response("not found", { status: 404 });
  },
};
`;

function distModules(folder = dist) {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return distModules(path);
    return name.endsWith(".js") ? [{ type: "ESModule", path }] : [];
  });
}

let mf;
const upstream = [];

before(async () => {
  mf = new Miniflare({
    modulesRoot: dist,
    modules: [{ type: "ESModule", path: join(dist, "__worker.js"), contents: WORKER }, ...distModules()],
    compatibilityDate: "2025-09-01",
    // The worker's outbound fetch lands here instead of the network.
    outboundService: async (request) => {
      upstream.push({ url: request.url, authorization: request.headers.get("authorization") });
      if (upstream.length === 1) return new Response("{}", { status: 503 });
      return Response.json({ paymentId: "pay_1", status: "succeeded", amount: "25.00" });
    },
  });
  await mf.ready;
});

after(async () => {
  await mf?.dispose();
});

async function verifyInWorker({ body, headers, secret }) {
  const response = await mf.dispatchFetch("http://worker.test/verify", {
    method: "POST",
    body,
    headers: { ...flatten(headers), "x-test-secret": secret },
  });
  return { status: response.status, json: await response.json() };
}

// Hop-by-hop and framing headers of the captured request (host, content-length, ...) are
// the transport's business; replay the ones the gateway chose.
const REPLAYED = /^(webhook-|content-type$|user-agent$)/i;

function flatten(headers) {
  return Object.fromEntries(
    Object.entries(headers).filter(([k, v]) => v !== undefined && REPLAYED.test(k)).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v)]),
  );
}

test("the verifier runs in workerd and accepts a signed postback", async () => {
  const { status, json } = await verifyInWorker({ ...signedPostback({ secret: localSecret, payload: samplePayload }), secret: localSecret });
  assert.equal(status, 200, JSON.stringify(json));
  assert.equal(json.runtime, "Cloudflare-Workers");
  assert.equal(json.event.event, "payment.succeeded");
  assert.equal(json.event.amount, "25.00");
});

test("in workerd a changed body is refused", async () => {
  const signed = signedPostback({ secret: localSecret, payload: samplePayload });
  const { status, json } = await verifyInWorker({ ...signed, body: signed.body.replace("25.00", "1.00"), secret: localSecret });
  assert.equal(status, 400);
  assert.equal(json.error, "PostbackVerificationError");
});

test("in workerd a signature by the previous secret during rotation verifies", async () => {
  const previous = newSecret();
  const signed = signedPostback({ secret: [localSecret, previous], payload: samplePayload });
  assert.equal((await verifyInWorker({ ...signed, secret: previous })).status, 200);
});

test("in workerd a stale postback is refused", async () => {
  const signed = signedPostback({ secret: localSecret, payload: samplePayload, timestamp: Math.floor(Date.now() / 1000) - 600 });
  const { status, json } = await verifyInWorker({ ...signed, secret: localSecret });
  assert.equal(status, 400);
  assert.match(json.message, /stale timestamp: signed \d+ s ago/);
});

test("the client runs in workerd: fetch, token, retry on 503", async () => {
  const response = await mf.dispatchFetch("http://worker.test/payment?id=pay_1");
  const json = await response.json();
  assert.equal(response.status, 200, JSON.stringify(json));
  assert.equal(json.payment.status, "succeeded");
  assert.equal(upstream.length, 2);
  assert.equal(upstream[1].url, "https://gate.example/api/v1/payments/pay_1");
  assert.equal(upstream[1].authorization, "Token tok_worker");
});

test(
  "real postbacks signed by the gateway verify in workerd, and fail when tampered",
  { skip: !(POSTBACK_FIXTURE && POSTBACK_SECRET) && "POSTBACK_FIXTURE and POSTBACK_SECRET not set" },
  async () => {
    const postbacks = JSON.parse(readFileSync(POSTBACK_FIXTURE, "utf8"));
    assert.ok(postbacks.length >= 1, "the fixture holds postbacks");
    for (const postback of postbacks) {
      const { status, json } = await verifyInWorker({ ...postback, secret: POSTBACK_SECRET });
      assert.equal(status, 200, JSON.stringify(json));
      assert.equal(json.runtime, "Cloudflare-Workers");
      assert.equal(json.event.webhookId, postback.headers["webhook-id"]);
      assert.deepEqual(
        Object.fromEntries(Object.entries(json.event).filter(([k]) => !["webhookId", "timestamp"].includes(k))),
        JSON.parse(postback.body),
      );
      const tampered = await verifyInWorker({ ...postback, body: `${postback.body} `, secret: POSTBACK_SECRET });
      assert.equal(tampered.status, 400);
      const wrongSecret = await verifyInWorker({ ...postback, secret: localSecret });
      assert.equal(wrongSecret.status, 400);
    }
  },
);

