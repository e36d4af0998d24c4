"""pywa's webhook fast path on one body, for infra/bench-webhook.sh (the peer side of the comparison).

Per iteration, what a pywa app does for one POST: verify X-Hub-Signature-256
(`webhook_update_validator`), parse the JSON and dispatch it to the registered `on_message` handler
(`webhook_update_handler`: RawUpdate, handler type resolution, Message construction, callback).
Duplicate skipping is off, or every iteration after the first would stop at the cache.

Usage: python bench_webhook_pywa.py BODY_FILE [ITERATIONS] [REPEATS]
Prints one line per repeat and a last line `pywa median_ns=… min_ns=… max_ns=…` (per iteration).
"""

import hashlib
import hmac
import statistics
import sys
import time

from pywa import WhatsApp, types

SECRET = "0123456789abcdef0123456789abcdef"  # the criterion bench's key


def main() -> None:
    body = open(sys.argv[1], "rb").read()
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    header = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    wa = WhatsApp(
        phone_id="106540352242922",
        token="unused",
        server=None,
        verify_token="unused",
        app_secret=SECRET,
        validate_updates=True,
        skip_duplicate_updates=False,
    )
    received = []

    @wa.on_message
    def on_message(_: WhatsApp, message: types.Message) -> None:
        received.append(message.text)

    def once() -> None:
        if wa.webhook_update_validator(body, header) is not None:
            raise SystemExit("pywa refused the signature")
        if wa.webhook_update_handler(body) != ("ok", 200):
            raise SystemExit("pywa did not accept the update")

    once()
    if len(received) != 1:
        raise SystemExit(f"pywa dispatched {len(received)} messages, expected 1")
    for _ in range(iterations // 10):  # warm-up
        once()
    per_iteration = []
    for repeat in range(repeats):
        received.clear()
        start = time.perf_counter_ns()
        for _ in range(iterations):
            once()
        elapsed = (time.perf_counter_ns() - start) / iterations
        if len(received) != iterations:
            raise SystemExit("a dispatch was lost")
        per_iteration.append(elapsed)
        print(f"  repeat {repeat + 1}: {elapsed / 1000:.2f} µs per webhook ({iterations} iterations)")
    print(
        f"pywa median_ns={statistics.median(per_iteration):.0f} "
        f"min_ns={min(per_iteration):.0f} max_ns={max(per_iteration):.0f}"
    )


if __name__ == "__main__":
    main()
