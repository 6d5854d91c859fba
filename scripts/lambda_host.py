"""A Lambda Runtime API host on 127.0.0.1, for running the release binaries as Lambda runs them.

Shared by scripts/bench_lambda.py (cold starts, footprint) and scripts/soak/ (hours of
decisions under faults). One host serves one function process: it hands out queued events
on `GET /runtime/invocation/next`, collects answers posted to
`/runtime/invocation/{id}/response` or `/error`, and records when each event was handed
out and when its answer arrived (monotonic seconds), so a caller can time the decision
as the Runtime API sees it. An init error (`/runtime/init/error`) is kept for the caller.

    host = RuntimeApi()
    proc = host.spawn("target/release/authorizer", env)
    answer = host.invoke(b'{"type": "TOKEN", ...}')   # Answer(kind, body, handed_at, answered_at)
    rss_kib(proc.pid, "VmRSS")
"""
import queue
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:authorizer"
DEADLINE_MS = 30_000


class QuietServer(ThreadingHTTPServer):
    """A threading server that does not print the broken pipes of killed functions."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


@dataclass
class Answer:
    """One invocation's answer: `kind` is "response" or "error" (the path's last segment)."""

    kind: str
    body: bytes
    handed_at: float  # time.monotonic() when the event was handed to the function
    answered_at: float  # time.monotonic() when its answer arrived


class NoAnswer(Exception):
    """The function did not answer in time (or died)."""


class RuntimeApi:
    """The Lambda Runtime API for one function process: hands out queued events, collects
    answers. One host per process, so a killed process's pending request cannot take the
    next process's event. `on_answer(request_id)` runs when an answer arrives, before the
    function gets its reply (scripts/bench_coldstart.py reads the process's CPU time there)."""

    def __init__(self, on_answer=None):
        self.events: "queue.Queue[tuple[str, bytes]]" = queue.Queue()
        self.answers: dict[str, Answer] = {}
        self.handed: dict[str, float] = {}
        self.init_error: bytes | None = None
        self.done = threading.Condition()
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status: int, body: bytes, headers: dict | None = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path.endswith("/invocation/next"):
                    request_id, body = host.events.get()
                    deadline = str(int(time.time() * 1000) + DEADLINE_MS)
                    host.handed[request_id] = time.monotonic()
                    self.reply(200, body, {"lambda-runtime-aws-request-id": request_id,
                                           "lambda-runtime-deadline-ms": deadline,
                                           "lambda-runtime-invoked-function-arn": FUNCTION_ARN})
                else:
                    self.reply(404, b"")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                arrived = time.monotonic()
                parts = self.path.split("/")
                if "invocation" in parts:
                    request_id, kind = parts[-2], parts[-1]
                    if on_answer:
                        on_answer(request_id)
                    with host.done:
                        handed = host.handed.pop(request_id, arrived)
                        host.answers[request_id] = Answer(kind, body, handed, arrived)
                        host.done.notify_all()
                elif parts[-2:] == ["init", "error"]:
                    with host.done:
                        host.init_error = body
                        host.done.notify_all()
                self.reply(202, b"{}")

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_port}"
        self.counter = 0

    def spawn(self, binary: str, env: dict, stdout=subprocess.DEVNULL,
              stderr=subprocess.DEVNULL) -> subprocess.Popen:
        """Starts the function process against this host (output discarded unless asked)."""
        env = {**env, "AWS_LAMBDA_RUNTIME_API": self.address}
        return subprocess.Popen([binary], env=env, stdout=stdout, stderr=stderr)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def invoke(self, body: bytes, timeout: float = 30, request_id: str | None = None) -> Answer:
        """Queues one event and waits for its answer; raises NoAnswer after `timeout`
        seconds, or at once when the function reported an init error."""
        self.counter += 1
        request_id = request_id or f"r{self.counter}"
        self.events.put((request_id, body))
        with self.done:
            if not self.done.wait_for(lambda: request_id in self.answers or self.init_error, timeout):
                raise NoAnswer(f"no answer to {request_id} within {timeout} s")
            if request_id not in self.answers:
                raise NoAnswer(f"init error: {self.init_error[:300]!r}")
            return self.answers.pop(request_id)


def rss_kib(pid: int, field: str) -> int:
    """A field of /proc/PID/status in KiB (VmRSS: resident now, VmHWM: peak); 0 if absent."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0
