#!/usr/bin/env node
/**
 * `npx apaygate listen --forward-to URL`: the gateway's test-mode postbacks, forwarded locally.
 *
 * Reads `GET /api/v1/postbacks/stream` (server-sent events; test tokens only) and POSTs each
 * postback to a URL on your machine with the body and the signature headers exactly as the
 * gateway signed them, so your own handler verifies them with `verifyPostback` and your
 * secret. One line is printed per postback with your handler's answer; a local error is
 * printed and the next postback is still forwarded. When the stream ends (the gateway ends
 * each after a while, or the network drops) it reconnects with `Last-Event-ID`.
 *
 * Node 18+ only (fetch streaming); nothing here is imported by the library itself. The
 * forward target is yours, on your machine: a loopback address is what it is for.
 */
import { VERSION } from "./version.js";

/** The little of Node's `process` this uses (the package's types stay runtime-neutral). */
interface NodeProcess {
  argv: string[];
  env: Record<string, string | undefined>;
  exitCode?: number;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  on(event: "SIGINT" | "SIGTERM", listener: () => void): unknown;
  exit(code?: number): never;
}

const proc = (globalThis as unknown as { process: NodeProcess }).process;

const STREAM_PATH = "/api/v1/postbacks/stream";
const FORWARD_TIMEOUT_MS = 10_000;
/** No byte for this long (the gateway sends a comment every 15 s): reconnect. */
const READ_TIMEOUT_MS = 45_000;
const MAX_BACKOFF_MS = 30_000;

interface StreamEvent {
  event: string;
  data: string;
  id: string | undefined;
}

interface StreamedPostback {
  event?: string;
  paymentId?: string;
  headers: Record<string, string>;
  body: string;
}

class ListenRefused extends Error {}

/** Parse a server-sent event stream (WHATWG HTML, "event stream interpretation"). */
class SseParser {
  private event = "message";
  private data: string[] = [];
  private lastId: string | undefined;
  private buffer = "";

  /** Feed decoded text; return the events it completed. */
  push(text: string): StreamEvent[] {
    this.buffer += text;
    const out: StreamEvent[] = [];
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      const done = this.line(line);
      if (done) out.push(done);
    }
    return out;
  }

  private line(line: string): StreamEvent | undefined {
    if (line === "") {
      const done =
        this.data.length > 0
          ? { event: this.event, data: this.data.join("\n"), id: this.lastId }
          : undefined;
      this.event = "message";
      this.data = [];
      return done;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") this.event = value;
    else if (name === "data") this.data.push(value);
    else if (name === "id" && !value.includes("\0")) this.lastId = value;
    return undefined;
  }
}

interface Forwarded {
  status: number | undefined;
  error: string;
  ms: number;
}

async function forward(url: string, postback: StreamedPostback): Promise<Forwarded> {
  const started = Date.now();
  try {
    const response = await fetch(url, {
      method: "POST",
      body: postback.body,
      headers: postback.headers,
      redirect: "manual",
      signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
    });
    await response.arrayBuffer().catch(() => undefined);
    return { status: response.status, error: "", ms: Date.now() - started };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    return { status: undefined, error: reason, ms: Date.now() - started };
  }
}

/** One line per postback: time, event, payment id, webhook id, the local answer. */
function summaryLine(postback: StreamedPostback, answer: Forwarded, now = new Date()): string {
  const stamp = now.toTimeString().slice(0, 8);
  const outcome =
    answer.status !== undefined ? `${answer.status} (${answer.ms} ms)` : `failed: ${answer.error}`;
  const event = (postback.event ?? "?").padEnd(20);
  return `${stamp}  ${event} ${postback.paymentId ?? "?"}  ${postback.headers["webhook-id"] ?? ""}  -> ${outcome}`;
}

async function refusal(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { code?: string; message?: string };
    return `${body.code}: ${body.message}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

interface ListenOptions {
  baseUrl: string;
  token: string;
  forwardTo: string;
}

async function streamOnce(options: ListenOptions, state: { lastEventId?: string }): Promise<void> {
  const headers: Record<string, string> = {
    Accept: "text/event-stream",
    Authorization: `Token ${options.token}`,
    "User-Agent": `apaygate-sdk-typescript/${VERSION} listen`,
  };
  if (state.lastEventId) headers["Last-Event-ID"] = state.lastEventId;
  const idle = new AbortController();
  let timer = setTimeout(() => idle.abort(), READ_TIMEOUT_MS);
  try {
    const response = await fetch(options.baseUrl.replace(/\/+$/, "") + STREAM_PATH, {
      headers,
      redirect: "manual",
      signal: idle.signal,
    });
    if (response.status === 401 || response.status === 403) {
      throw new ListenRefused(await refusal(response));
    }
    if (response.status !== 200 || !response.body) {
      throw new Error(`${response.status} ${await refusal(response)}`);
    }
    proc.stderr.write(
      `Ready. Forwarding test-mode postbacks to ${options.forwardTo} (Ctrl-C to stop)\n`,
    );
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), READ_TIMEOUT_MS);
      for (const event of parser.push(decoder.decode(value, { stream: true }))) {
        if (event.event !== "postback") continue;
        const postback = JSON.parse(event.data) as StreamedPostback;
        const answer = await forward(options.forwardTo, postback);
        proc.stdout.write(summaryLine(postback, answer) + "\n");
        if (event.id) state.lastEventId = event.id;
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Listen until interrupted; reconnect after any end but a refusal. Resolves to an exit code. */
async function listen(options: ListenOptions): Promise<number> {
  const state: { lastEventId?: string } = {};
  let backoff = 1000;
  for (;;) {
    const started = Date.now();
    try {
      await streamOnce(options, state);
      backoff = 1000; // the gateway ended the stream: reconnect at once
    } catch (error) {
      if (error instanceof ListenRefused) {
        proc.stderr.write(`apaygate listen: refused by the gateway: ${error.message}\n`);
        return 2;
      }
      proc.stderr.write(`apaygate listen: ${(error as Error).message}; reconnecting\n`);
      if (Date.now() - started > 30_000) backoff = 1000;
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }
}

const USAGE = `usage: apaygate listen --forward-to URL [--base-url URL] [--token TOKEN]

Stream your test-mode postbacks from the gateway and POST each, body and signature headers
unchanged, to a URL on this machine. --base-url and --token default to $APAYGATE_BASE_URL
and $APAYGATE_TOKEN (a TEST token).
`;

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at >= 0) return args[at + 1];
  const inline = args.find((arg) => arg.startsWith(`${name}=`));
  return inline?.slice(name.length + 1);
}

async function main(args: string[]): Promise<number> {
  if (args[0] !== "listen" || args.includes("--help") || args.includes("-h")) {
    (args[0] === "listen" ? proc.stdout : proc.stderr).write(USAGE);
    return args[0] === "listen" ? 0 : 2;
  }
  const forwardTo = option(args, "--forward-to");
  const baseUrl = option(args, "--base-url") ?? proc.env.APAYGATE_BASE_URL;
  const token = option(args, "--token") ?? proc.env.APAYGATE_TOKEN;
  if (!forwardTo || !baseUrl || !token) {
    proc.stderr.write(USAGE);
    return 2;
  }
  return listen({ baseUrl, token, forwardTo });
}

for (const signal of ["SIGINT", "SIGTERM"] as const) proc.on(signal, () => proc.exit(0));
proc.exitCode = await main(proc.argv.slice(2));
proc.exit(proc.exitCode);
