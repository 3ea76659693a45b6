// Run the postbacks page's JavaScript snippet inside workerd (Cloudflare's runtime), through
// miniflare from sdk/typescript's node_modules (tests/docs/test_snippets.py runs this).
//
// argv[2]: a file holding the snippet exactly as cut out of docs/public/postbacks.md.
// stdin: a JSON list of cases {body_b64, headers, secret}; stdout: a JSON list of
// {runtime, ok, event} or {runtime, ok: false, error}, one per case, in order.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const sdk = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "../../sdk/typescript/");
const { Miniflare } = createRequire(join(sdk, "package.json"))("miniflare");

const snippet = readFileSync(process.argv[2], "utf8");
const cases = JSON.parse(readFileSync(0, "utf8"));

// The snippet as a Worker's module, with a fetch handler that calls it the way a Worker's
// postback endpoint would: the raw body as text, the request's Headers object.
const WORKER = `${snippet}

export default {
  async fetch(request) {
    const runtime = navigator.userAgent;
    const body = await request.text();
    const headers = new Headers(request.headers);
    const secret = headers.get("x-test-secret");
    headers.delete("x-test-secret");
    try {
      const event = await checkPostbackSignature(body, headers, secret);
      return Response.json({ runtime, ok: true, event });
    } catch (error) {
      return Response.json({ runtime, ok: false, error: String(error.message) });
    }
  },
};
`;

const mf = new Miniflare({ modules: true, script: WORKER, compatibilityDate: "2025-09-01" });
try {
  const results = [];
  for (const c of cases) {
    const response = await mf.dispatchFetch("http://worker.test/postback", {
      method: "POST",
      body: Buffer.from(c.body_b64, "base64"),
      // the headers the gateway chose; framing ones (host, content-length) are the transport's
      headers: {
        ...Object.fromEntries(Object.entries(c.headers).filter(([k]) => /^(webhook-|content-type$)/i.test(k))),
        "x-test-secret": c.secret,
      },
    });
    results.push(await response.json());
  }
  process.stdout.write(JSON.stringify(results));
} finally {
  await mf.dispose();
}
