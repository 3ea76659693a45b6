import { PaymentStatus, type VerifiedPostback } from "@apaygate/sdk";

/**
 * Where the shop keeps its orders. An in-memory map keeps the example self-contained;
 * use your database (D1, Postgres, ...) in a real shop.
 */
export interface Order {
  id: string;
  amount: string;
  currency: string;
  paymentId?: string;
  status: PaymentStatus;
}

const orders = new Map<string, Order>();
const seenWebhooks = new Set<string>();

export function orderCreate(order: Order): void {
  orders.set(order.id, order);
}

export function orderGet(id: string): Order | undefined {
  return orders.get(id);
}

/** Apply a verified postback once: retries and resends carry the same webhook id. */
export function orderRecordPostback(event: VerifiedPostback): "applied" | "duplicate" | "unknown" {
  if (seenWebhooks.has(event.webhookId)) return "duplicate";
  const order = orders.get(event.id);
  if (!order) return "unknown";
  // Trust the amount in the signed postback, not what the shopper's browser said.
  if (event.amount !== order.amount || event.currency !== order.currency) return "unknown";
  seenWebhooks.add(event.webhookId);
  order.paymentId = event.paymentId;
  order.status = event.status;
  return "applied";
}
