import { orderGet } from "$lib/server/orders";

import type { PageServerLoad } from "./$types";

// The return URL proves nothing about the payment: show what the signed postback said.
export const load: PageServerLoad = ({ url }) => {
  const order = orderGet(url.searchParams.get("order") ?? "");
  return { status: order?.status ?? "unknown", failed: url.searchParams.has("failed") };
};
