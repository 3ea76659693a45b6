// The built SvelteKit app (adapter-cloudflare output, bundled like `wrangler deploy` does)
// run in workerd through miniflare: the checkout action calls initPayment and redirects,
// and the postback endpoint verifies and records.
// Run after `npm run build`: `node --test test/`.
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";
import { Miniflare } from "miniflare";

const root = fileURLToPath(new URL("..", import.meta.url));
const secret = `whsec_${randomBytes(24).toString("base64")}`;
const gatewayCalls = [];
let mf;

before(async () => {
  const outfile = `${root}.svelte-kit/test-worker/worker.js`;
  await build({
    entryPoints: [`${root}.svelte-kit/cloudflare/_worker.js`],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    external: ["cloudflare:*", "node:*"],
    outfile,
    logLevel: "error",
  });
  mf = new Miniflare({
    // One bundled module, listed so miniflare does not parse it for imports (SvelteKit keeps a
    // computed dynamic import that never runs here).
    modules: [{ type: "ESModule", path: outfile }],
    compatibilityDate: "2025-09-01",
    compatibilityFlags: ["nodejs_compat"],
    bindings: {
      APAYGATE_TOKEN: "apg_test_example",
      APAYGATE_URL: "https://gate.example",
      APAYGATE_POSTBACK_SECRET: secret,
      PUBLIC_SHOP_URL: "https://shop.example",
    },
    // The app's outbound fetch (the SDK calling the gateway) lands here.
    outboundService: async (request) => {
      gatewayCalls.push({ url: request.url, auth: request.headers.get("authorization"), body: await request.json() });
      return Response.json({ status: "success", id: "pay_123", url: "https://gate.example/integration/pay?id=pay_123" }, { status: 201 });
    },
  });
  await mf.ready;
});

after(() => mf?.dispose());

function signed(payload, timestamp = Math.floor(Date.now() / 1000)) {
  const body = JSON.stringify(payload);
  const id = `msg_${randomBytes(6).toString("hex")}`;
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const signature = `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
  return { body, headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature } };
}

test("checkout calls initPayment with a string amount and redirects to the gateway", async () => {
  const response = await mf.dispatchFetch("https://shop.example/checkout", {
    method: "POST",
    headers: { accept: "text/html", "content-type": "application/x-www-form-urlencoded", origin: "https://shop.example" },
    body: "email=shopper%40example.com",
    redirect: "manual",
  });
  // SvelteKit answers form actions posted without JS with a 303
  assert.equal(response.status, 303, await response.text());
  assert.equal(response.headers.get("location"), "https://gate.example/integration/pay?id=pay_123");
  assert.equal(gatewayCalls.length, 1);
  const call = gatewayCalls[0];
  assert.equal(call.url, "https://gate.example/api/v1/init-payment");
  assert.equal(call.auth, "Token apg_test_example");
  assert.equal(call.body.amount, "25.00");
  assert.equal(call.body.postbackUrl, "https://shop.example/postbacks/apaygate");
  assert.match(call.body.id, /^order-/);
});

test("the postback endpoint accepts a signed postback and refuses a forged one", async () => {
  const order = gatewayCalls[0]?.body.id ?? "order-unknown";
  const payload = { event: "payment.succeeded", id: order, paymentId: "pay_123", status: "succeeded", amount: "25.00", currency: "USD", createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:01:00Z" };
  const good = signed(payload);
  const ok = await mf.dispatchFetch("https://shop.example/postbacks/apaygate", { method: "POST", ...good });
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), "applied");
  const again = await mf.dispatchFetch("https://shop.example/postbacks/apaygate", { method: "POST", ...good });
  assert.equal(await again.text(), "duplicate");
  const forged = await mf.dispatchFetch("https://shop.example/postbacks/apaygate", {
    method: "POST",
    headers: good.headers,
    body: good.body.replace("25.00", "0.01"),
  });
  assert.equal(forged.status, 400);
});
