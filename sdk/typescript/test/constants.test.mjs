import assert from "node:assert/strict";
import { test } from "node:test";

import { PaymentStatus, PostbackEvent } from "../dist/index.js";

test("payment statuses are the wire strings", () => {
  assert.deepEqual(
    { ...PaymentStatus },
    {
      Created: "created",
      Pending: "pending",
      Succeeded: "succeeded",
      Failed: "failed",
      Expired: "expired",
      ProviderError: "provider_error",
    },
  );
});

test("postback events are the wire strings", () => {
  assert.deepEqual(
    { ...PostbackEvent },
    {
      PaymentSucceeded: "payment.succeeded",
      PaymentFailed: "payment.failed",
      PaymentExpired: "payment.expired",
      PaymentFlagged: "payment.flagged",
      PostbackTest: "postback.test",
    },
  );
});

test("constants cannot be reassigned at run time", () => {
  assert.throws(() => {
    "use strict";
    PaymentStatus.Succeeded = "paid";
  }, TypeError);
});
