// A developer's local postback handler for the `apaygate listen` tests, verifying with the
// TypeScript SDK's verifyPostback (the installed package):
//
//     node receiver.mjs PORT SECRET LOG SDK_ENTRY
//
// Each request is appended to LOG as one JSON line, like receiver.py; answers 200 or 400.
import { appendFileSync } from "node:fs";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";

const [port, secret, log, sdkEntry] = process.argv.slice(2);
const { verifyPostback, PostbackVerificationError } = await import(pathToFileURL(sdkEntry).href);

createServer(async (request, response) => {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  const body = Buffer.concat(chunks).toString("utf-8");
  const record = { webhookId: request.headers["webhook-id"], body };
  let status = 200;
  try {
    const postback = await verifyPostback({ body, headers: request.headers, secret });
    Object.assign(record, { verified: true, event: postback.event, paymentId: postback.paymentId });
  } catch (error) {
    if (!(error instanceof PostbackVerificationError)) throw error;
    Object.assign(record, { verified: false, error: error.message });
    status = 400;
  }
  appendFileSync(log, JSON.stringify(record) + "\n");
  response.writeHead(status, { "Content-Length": "0" }).end();
}).listen(Number(port), "127.0.0.1");
