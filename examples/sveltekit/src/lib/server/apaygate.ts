import { env } from "$env/dynamic/private";
import { APayGate } from "@apaygate/sdk";

/** One client per request is cheap; Workers have no long-lived process to share it in. */
export function gateway(): APayGate {
  const token = env.APAYGATE_TOKEN;
  const baseUrl = env.APAYGATE_URL;
  if (!token || !baseUrl) throw new Error("Set APAYGATE_TOKEN and APAYGATE_URL");
  return new APayGate({ token, baseUrl });
}

export function postbackSecret(): string {
  const secret = env.APAYGATE_POSTBACK_SECRET;
  if (!secret) throw new Error("Set APAYGATE_POSTBACK_SECRET (whsec_...)");
  return secret;
}
