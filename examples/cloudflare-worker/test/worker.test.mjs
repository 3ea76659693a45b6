// The example worker, bundled by esbuild, run in workerd through miniflare.
// POSTBACK_FIXTURE + POSTBACK_SECRET (set by tests/sdk) add real postbacks signed by a
// running gateway; without them those cases are skipped.
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { Miniflare } from "miniflare";

const { POSTBACK_FIXTURE, POSTBACK_SECRET } = process.env;
const secret = POSTBACK_SECRET || `whsec_${randomBytes(24).toString("base64")}`;
const previous = `whsec_${randomBytes(24).toString("base64")}`;

function signed(payload, { id = `msg_${randomBytes(6).toString("hex")}`, timestamp = Math.floor(Date.now() / 1000), secrets = [secret] } = {}) {
  const body = JSON.stringify(payload);
  const signature = secrets
    .map((s) => {
      const key = Buffer.from(s.replace(/^whsec_/, ""), "base64");
      return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
    })
    .join(" ");
  return { body, headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature } };
}

const payload = (id, extra = {}) => ({
  event: "payment.succeeded",
  id,
  paymentId: `pay_${id}`,
  status: "succeeded",
  amount: "25.00",
  currency: "USD",
  createdAt: "2026-01-01T00:00:00Z",
  updatedAt: "2026-01-01T00:01:00Z",
  ...extra,
});

let mf;
before(async () => {
  mf = new Miniflare({
    scriptPath: fileURLToPath(new URL("../dist/worker.js", import.meta.url)),
    modules: true,
    compatibilityDate: "2025-09-01",
    bindings: { APAYGATE_POSTBACK_SECRET: secret, APAYGATE_POSTBACK_SECRET_PREVIOUS: previous },
    kvNamespaces: ["PAYMENTS"],
  });
  await mf.ready;
});
after(() => mf?.dispose());

const post = ({ body, headers }) => mf.dispatchFetch("http://shop.test/postbacks/apaygate", { method: "POST", body, headers });
const order = async (id) => JSON.parse((await (await mf.getKVNamespace("PAYMENTS")).get(`order:${id}`)) ?? "null");

test("a signed postback is recorded once per webhook id", async () => {
  const postback = signed(payload("order-1"));
  const first = await post(postback);
  assert.equal(first.status, 200);
  assert.equal(await first.text(), "recorded");
  assert.deepEqual(await order("order-1"), {
    paymentId: "pay_order-1",
    status: "succeeded",
    amount: "25.00",
    currency: "USD",
    event: "payment.succeeded",
    updatedAt: "2026-01-01T00:01:00Z",
  });
  const retry = await post(postback);
  assert.equal(await retry.text(), "duplicate");
});

test("a forged postback is refused and not recorded", async () => {
  const postback = signed(payload("order-2"));
  const forged = { ...postback, body: postback.body.replace("succeeded", "failed") };
  const response = await post(forged);
  assert.equal(response.status, 400);
  assert.equal(await order("order-2"), null);
});

test("a postback signed only with the previous secret is accepted during rotation", async () => {
  const response = await post(signed(payload("order-3"), { secrets: [previous] }));
  assert.equal(response.status, 200);
  assert.equal((await order("order-3")).status, "succeeded");
});

test("a replayed old postback is refused", async () => {
  const response = await post(signed(payload("order-4"), { timestamp: Math.floor(Date.now() / 1000) - 3600 }));
  assert.equal(response.status, 400);
});

test("only POST is allowed", async () => {
  const response = await mf.dispatchFetch("http://shop.test/postbacks/apaygate");
  assert.equal(response.status, 405);
});

test(
  "real postbacks signed by the gateway are recorded",
  { skip: !(POSTBACK_FIXTURE && POSTBACK_SECRET) && "POSTBACK_FIXTURE and POSTBACK_SECRET not set" },
  async () => {
    const postbacks = JSON.parse(readFileSync(POSTBACK_FIXTURE, "utf8"));
    for (const { body, headers } of postbacks) {
      const replay = Object.fromEntries(Object.entries(headers).filter(([k]) => /^(webhook-|content-type$)/i.test(k)));
      const response = await post({ body, headers: replay });
      assert.equal(response.status, 200, await response.text());
      const sent = JSON.parse(body);
      if (sent.event !== "postback.test") assert.equal((await order(sent.id)).status, sent.status);
    }
  },
);
