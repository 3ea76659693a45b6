// Test helpers: a scripted HTTP server on 127.0.0.1 and Standard Webhooks signing done
// with node:crypto (an implementation independent of the SDK's Web Crypto one).
import { createHmac, randomBytes } from "node:crypto";
import { createServer } from "node:http";

/** Start a server that answers from `script` (one entry per request, the last one repeats). */
export async function scriptedServer(script) {
  const requests = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString("utf8");
    const entry = { method: req.method, url: req.url, headers: req.headers, body, at: Date.now() };
    requests.push(entry);
    const step = script[Math.min(requests.length - 1, script.length - 1)];
    const answer = typeof step === "function" ? step(entry, server) : step;
    res.writeHead(answer.status, { "Content-Type": "application/json", ...(answer.headers ?? {}) });
    res.end(typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? {}));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

export function newSecret() {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

export function sign({ secret, id, timestamp, body }) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

export function signedPostback({ secret, payload, timestamp = Math.floor(Date.now() / 1000), id = "msg_test1" }) {
  const body = JSON.stringify(payload);
  const signatures = (Array.isArray(secret) ? secret : [secret])
    .map((one) => sign({ secret: one, id, timestamp, body }))
    .join(" ");
  return {
    body,
    headers: { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signatures },
  };
}

export const samplePayload = {
  event: "payment.succeeded",
  id: "order-1",
  paymentId: "pay_abc",
  status: "succeeded",
  amount: "25.00",
  currency: "USD",
  createdAt: "2026-01-01T00:00:00Z",
  updatedAt: "2026-01-01T00:01:00Z",
};
