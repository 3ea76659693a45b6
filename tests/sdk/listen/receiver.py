"""A developer's local postback handler for the `apaygate listen` tests, verifying with the
Python SDK. Run with the SDK's `src` on PYTHONPATH (not the gateway's root):

    python -P receiver.py PORT SECRET LOG

Each request is appended to LOG as one JSON line: the webhook id, the body, and whether
`verify_postback` accepted it (the event it read) or why not. Answers 200 or 400.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from apaygate import PostbackVerificationError, verify_postback

PORT, SECRET, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        record = {"webhookId": self.headers.get("webhook-id"), "body": body.decode("utf-8")}
        try:
            postback = verify_postback(body=body, headers=dict(self.headers), secret=SECRET)
            record.update(verified=True, event=str(postback.event), paymentId=postback.payment_id)
            status = 200
        except PostbackVerificationError as exc:
            record.update(verified=False, error=str(exc))
            status = 400
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
