import { APayGateError } from "@apaygate/sdk";
import { error, fail, redirect } from "@sveltejs/kit";

import { env } from "$env/dynamic/private";
import { gateway } from "$lib/server/apaygate";
import { orderCreate } from "$lib/server/orders";

import type { Actions, PageServerLoad } from "./$types";

export const load: PageServerLoad = () => redirect(303, "/");

export const actions: Actions = {
  default: async ({ request, url }) => {
    const form = await request.formData();
    const email = String(form.get("email") ?? "");
    const shop = env.PUBLIC_SHOP_URL || url.origin;
    const orderId = `order-${crypto.randomUUID()}`;
    orderCreate({ id: orderId, amount: "25.00", currency: "USD", status: "created" });

    let payUrl: string;
    try {
      const { url: link } = await gateway().initPayment(
        {
          id: orderId,
          customerEmail: email,
          amount: "25.00",
          currency: "USD",
          successUrl: `${shop}/thanks?order=${orderId}`,
          errorUrl: `${shop}/thanks?order=${orderId}&failed=1`,
          postbackUrl: `${shop}/postbacks/apaygate`,
        },
        { idempotencyKey: orderId },
      );
      payUrl = link;
    } catch (e) {
      if (e instanceof APayGateError && e.status === 400) {
        return fail(400, { error: Object.values(e.errors).flat().join(" ") || e.message });
      }
      if (e instanceof APayGateError) error(502, `Payment gateway: ${e.code}`);
      throw e;
    }
    redirect(303, payUrl);
  },
};
