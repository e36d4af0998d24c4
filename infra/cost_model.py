#!/usr/bin/env python3
"""Prices the report of tests/it/bench_cost.rs (infra/bench-cost.sh) for a month of
1 M inbound texts + 1 M outbound texts + 3 M statuses at AWS us-east-1 list prices.
The model, the prices and every assumption are in docs/cost.md; keep the two in step.

usage: python3 infra/cost_model.py report.json
"""
import json
import sys

MONTH = {"inbound": 1_000_000, "outbound": 1_000_000, "statuses": 3_000_000}

# us-east-1 list prices (USD).
HTTP_API = 1.00 / 1e6            # API Gateway HTTP API, per request (first 300 M)
LAMBDA_REQUEST = 0.20 / 1e6       # per invocation
LAMBDA_GB_S = 0.0000133334        # arm64, per GB-second
SQS_FIFO = 0.50 / 1e6             # per request (64 KB chunk)
SQS_STANDARD = 0.40 / 1e6
WRITE_UNIT = 0.625 / 1e6          # DynamoDB on-demand, per write request unit (1 KB)
READ_UNIT = 0.125 / 1e6           # per read request unit (4 KB strongly consistent, 8 KB eventually)
KMS_REQUEST = 0.03 / 1e4
LOGS_GB = 0.50                    # CloudWatch Logs ingestion, per GB

# Assumptions (docs/cost.md).
MEMORY_GB = 256 / 1024            # template.yaml's MemorySize
BASE_MS, PER_CALL_MS = 3.0, 4.0   # duration: a few ms of our code + one in-region AWS round trip per call
PLATFORM_LOG_BYTES = 500          # Lambda's own JSON lines (platform.start, platform.report) per invocation
FIFO_QUEUES = ("InboundQueue", "OutboundQueue")
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
READS = {"GetItem", "Query", "BatchGetItem", "Scan"}


def sqs_price(queue):
    return SQS_FIFO if queue in FIFO_QUEUES else SQS_STANDARD


def phase_cost(name, phase, http_api=True):
    """Cost per event of one phase, by service, and its AWS calls per event."""
    events = phase["events"]
    cost = {"api_gateway": 0.0, "lambda": 0.0, "sqs": 0.0, "dynamodb": 0.0, "kms": 0.0, "logs": 0.0}
    calls, log_bytes, invocations = {}, 0, 0
    # Live notices the phase's functions queued: `realtime` runs once for each (one per poll at
    # this rate), whether or not a console is connected to take it.
    live_notices = sum(
        count
        for used in phase["functions"].values()
        for operation, count in used["items"].items()
        if operation.startswith("SendMessage") and operation.endswith("@LiveQueue")
    )
    for function, used in phase["functions"].items():
        requests, items = used["requests"], used["items"]
        aws_requests = sum(requests.values())
        # Invocations: one per HTTP request; a queue consumer once per message (at this model's
        # rate, ~1.5 events/s spread over many FIFO groups, a poll returns one message).
        if function == "webhook":
            n = phase["webhook_posts"]
        elif function == "api":
            n = phase["api_requests"]
        elif function in ("inbound", "send"):
            n = events if aws_requests else 0
        elif function == "realtime":
            n = live_notices
        else:
            n = requests.get("ReceiveMessage", 0)
        invocations += n
        cost["lambda"] += n * LAMBDA_REQUEST
        cost["lambda"] += (n * BASE_MS + aws_requests * PER_CALL_MS) / 1000 * MEMORY_GB * LAMBDA_GB_S
        log_bytes += used["log_bytes"] + n * PLATFORM_LOG_BYTES
        for operation, count in requests.items():
            op, _, queue = operation.partition("@")
            calls[op] = calls.get(op, 0) + count
            if queue:
                cost["sqs"] += count * sqs_price(queue)
                # The consumer's side of every message sent: the event source mapping's
                # ReceiveMessage and DeleteMessage(Batch), one each per poll of one message.
                if op.startswith("SendMessage") and queue.endswith("Queue") and "DeadLetter" not in queue:
                    cost["sqs"] += 2 * items.get(operation, count) * sqs_price(queue)
            elif op == "TransactWriteItems":
                cost["dynamodb"] += 2 * items[operation] * WRITE_UNIT
            elif op == "TransactGetItems":
                cost["dynamodb"] += 2 * items[operation] * READ_UNIT
            elif op in WRITES:
                cost["dynamodb"] += items[operation] * WRITE_UNIT
            elif op in READS:
                # Eventually consistent, items under 4 KB: half a unit.
                cost["dynamodb"] += items[operation] * 0.5 * READ_UNIT
            elif op in ("Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"):
                cost["kms"] += count * KMS_REQUEST
    if http_api:
        cost["api_gateway"] = (phase["webhook_posts"] + phase["api_requests"]) * HTTP_API
    else:
        cost["api_gateway"] = phase["api_requests"] * HTTP_API
    cost["logs"] = log_bytes / 1e9 * LOGS_GB
    per_event = {k: v / events for k, v in cost.items()}
    return per_event, {k: v / events for k, v in calls.items()}, log_bytes / events, invocations / events


def main():
    report = json.load(open(sys.argv[1]))
    print(f"events per phase: {report['events']} ({report['people']} people); Graph sends: {report['graph_sends']}")
    for url in (False, True):
        if url:
            print("\n-- the same with the webhook on a Lambda Function URL (no API Gateway per delivery):")
        total = {}
        for name, phase in report["phases"].items():
            per_event, calls, logs, invocations = phase_cost(name, phase, http_api=not url)
            month = {k: v * MONTH[name] for k, v in per_event.items()}
            for k, v in month.items():
                total[k] = total.get(k, 0.0) + v
            if not url:
                aws = sum(calls.values())
                detail = ", ".join(f"{op} {n:.2f}" for op, n in sorted(calls.items(), key=lambda x: -x[1]))
                print(f"{name:9} AWS requests/event {aws:6.2f} ({detail})")
                print(f"{'':9} logs/event {logs:7.0f} B (incl. {PLATFORM_LOG_BYTES} B platform per invocation), "
                      f"invocations/event {invocations:.2f}")
            print(f"{name:9} ${sum(month.values()):7.2f}/month for {MONTH[name]:,} ("
                  + ", ".join(f"{k} {v:.2f}" for k, v in month.items()) + ")")
        print("TOTAL     ${:7.2f}/month (".format(sum(total.values()))
              + ", ".join(f"{k} {v:.2f}" for k, v in total.items()) + ")")


if __name__ == "__main__":
    main()
