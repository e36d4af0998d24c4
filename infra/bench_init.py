"""Init time and idle memory of each function's release binary, for infra/bench-init.sh.

A stub Lambda Runtime API (http.server) serves each process its events. Per run: spawn the
binary with AWS_LAMBDA_RUNTIME_API pointing at the stub and fake configuration (AWS endpoints at a
closed local port: init must not call AWS); init = spawn -> its first
`GET /2018-06-01/runtime/invocation/next`; idle RSS = VmRSS from /proc while it waits there; then
one event is served (one that needs no AWS call: the webhook's handshake, the API's OpenAPI
document, an empty SQS batch, an unknown retention job) and RSS is read again at the next `next`.

Usage: python bench_init.py BIN_DIR PORT RUNS [FUNCTION...]
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FUNCTIONS = ["webhook", "inbound", "send", "suggest", "retention", "import", "api", "realtime"]


def http_event(method: str, path: str, query: str) -> dict:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "localhost"},
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "bench",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "isBase64Encoded": False,
    }


EVENTS = {
    "webhook": http_event("GET", "/webhooks/meta", "hub.mode=subscribe&hub.verify_token=bench-verify-token&hub.challenge=42"),
    "api": http_event("GET", "/v1/openapi.json", ""),
    "inbound": {"Records": []},
    "send": {"Records": []},
    "suggest": {"Records": []},
    "import": {"Records": []},
    "retention": {"job": "bench-no-such-job"},
    "realtime": {"Records": []},
}


def env_for(name: str, runtime_api: str, aws_port: int) -> dict:
    nowhere = f"http://127.0.0.1:{aws_port}"  # nothing listens: any AWS call would fail fast
    queue = f"{nowhere}/000000000000/bench.fifo"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_ENDPOINT_URL": nowhere,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "RUST_LOG": "info",
        "TABLE_NAME": "bench",
        "KEY_TABLE_NAME": "bench-keys",
        "KMS_KEY_ID": "alias/bench",
    }
    graph = "https://graph.invalid"
    ai = "sandbox=https://ai.invalid/v1"
    env.update(
        {
            "webhook": {"META_APP_SECRET": "bench-app-secret", "META_VERIFY_TOKEN": "bench-verify-token", "INBOUND_QUEUE_URL": queue},
            "api": {
                "OPERATOR_KEY_SHA256": "0" * 64,
                "GRAPH_API_BASE_URL": graph,
                "OUTBOUND_QUEUE_URL": queue,
                "SUGGEST_QUEUE_URL": queue,
                "IMPORT_QUEUE_URL": queue,
                "AI_PROVIDERS": ai,
                "LIVE_QUEUE_URL": queue,
            },
            "inbound": {"GRAPH_API_BASE_URL": graph, "OUTBOUND_QUEUE_URL": queue, "SUGGEST_QUEUE_URL": queue, "LIVE_QUEUE_URL": queue},
            "send": {"GRAPH_API_BASE_URL": graph, "SEND_INSTANCES": "1"},
            "suggest": {"AI_PROVIDERS": ai},
            "retention": {"INBOUND_QUEUE_URL": queue, "LIVE_QUEUE_URL": queue},
            "import": {},
            "realtime": {"LIVE_MANAGEMENT_ENDPOINT": f"{nowhere}/live"},
        }[name]
    )
    return env


class Run:
    """One process's visit to the stub."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.first_next = threading.Event()
        self.second_next = threading.Event()
        self.first_at = 0
        self.nexts = 0
        self.outcome = None
        self.release = threading.Event()


RUNS: dict[str, Run] = {}


class Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _run(self) -> tuple[Run | None, str]:
        parts = self.path.split("/", 3)  # "", "run", "<id>", rest
        if len(parts) < 4 or parts[1] != "run":
            return None, self.path
        return RUNS.get(parts[2]), "/" + parts[3]

    def _reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        now = time.perf_counter_ns()
        run, path = self._run()
        if run is None or not path.endswith("/invocation/next"):
            self._reply(404, b"{}")
            return
        run.nexts += 1
        if run.nexts == 1:
            run.first_at = now
            run.first_next.set()
            run.release.wait(30)  # the harness reads idle RSS meanwhile
            event = json.dumps(EVENTS[run.name]).encode()
            headers = {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": f"bench-{run.name}",
                "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30_000),
                "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:000000000000:function:{run.name}",
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
            }
            self._reply(200, event, headers)
        else:
            run.second_next.set()
            time.sleep(30)  # held until the process is killed

    def do_POST(self) -> None:
        run, path = self._run()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if run is not None and "/invocation/" in path:
            run.outcome = ("response" if path.endswith("/response") else "error", body[:200])
        self._reply(202, b"{}")


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    bin_dir, port, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    names = sys.argv[4:] or FUNCTIONS
    server = ThreadingHTTPServer(("127.0.0.1", port), Stub)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    results = {}
    counter = 0
    for name in names:
        binary = os.path.join(bin_dir, name)
        inits, idles, afters, outcomes = [], [], [], set()
        for _ in range(runs):
            counter += 1
            run = Run(name)
            RUNS[str(counter)] = run
            env = env_for(name, f"http://127.0.0.1:{port}/run/{counter}", port + 1)
            start = time.perf_counter_ns()
            process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                if not run.first_next.wait(20):
                    err = process.stderr.read1(2000) if process.poll() is not None else b"(still running)"
                    raise SystemExit(f"{name}: no `next` within 20 s: {err!r}")
                inits.append((run.first_at - start) / 1e6)
                time.sleep(0.2)  # idle: waiting for its first event
                idles.append(rss_kb(process.pid))
                run.release.set()
                run.second_next.wait(20)
                time.sleep(0.05)
                afters.append(rss_kb(process.pid))
                outcomes.add(run.outcome[0] if run.outcome else "none")
            finally:
                process.kill()
                process.wait()
        results[name] = (inits, idles, afters, outcomes)
        print(
            f"{name:<10} init ms min {min(inits):6.1f} median {statistics.median(inits):6.1f} max {max(inits):6.1f}"
            f" | idle RSS MB min {min(idles) / 1024:5.1f} median {statistics.median(idles) / 1024:5.1f}"
            f" | after 1 event {statistics.median(afters) / 1024:5.1f} MB ({'/'.join(sorted(outcomes))}) | {runs} runs",
            flush=True,
        )
    server.shutdown()


if __name__ == "__main__":
    main()
