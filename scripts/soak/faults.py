"""The two upstreams of the authorizer, each behind a switch the schedule turns.

- `TableProxy`: an HTTP proxy in front of moto_server's DynamoDB (the binary's real AWS
  SDK reaches it through `AWS_ENDPOINT_URL`). Modes: `up` (pass through), `refuse` (the
  listening socket is closed: connections are refused, open ones are reset), `hang`
  (requests are read and never answered), `error500` (DynamoDB's InternalServerError),
  `garbage` (200 answers the SDK cannot parse, or broken HTTP).
- `JwksServer`: the issuer's JWKS endpoint, serving the `Issuer`'s published key set.
  Modes: `up`, `error500`, `hang`, `garbage` (not JSON, truncated, an empty or unusable
  key set, a document past the 256 KiB cap), `stall` (headers, half the body, then
  nothing), `reset` (connections accepted and reset), `refuse` (listening socket closed).

Both are loopback HTTP/1.1 servers with keep-alive; the mode is read per request, so a
pooled connection sees a change at its next request. Each logs what it was asked:
`TableProxy.calls` per (mode, operation), with the requests that failed or came back
slowly in `up` mode (a timeout of the authorizer's own making); `JwksServer.requests`,
one `JwksRequest` per request with its arrival time.
"""
import json
import os
import random
import select
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException

HANG_LIMIT = 60.0  # seconds a hung request is held at most (the clients give up far sooner)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass
class Request:
    method: str
    path: str
    headers: dict  # lower-case names
    body: bytes
    arrived: float  # time.monotonic()


def read_request(reader) -> Request | None:
    """One HTTP/1.1 request (Content-Length bodies only); None at end of stream."""
    line = reader.readline(65536)
    if not line:
        return None
    arrived = time.monotonic()
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers = {}
    while True:
        line = reader.readline(65536)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", 0) or 0))
    return Request(method, path, headers, body, arrived)


def response(status: int, reason: str, body: bytes, headers: dict | None = None) -> bytes:
    head = [f"HTTP/1.1 {status} {reason}"]
    for name, value in (headers or {}).items():
        head.append(f"{name}: {value}")
    head.append(f"content-length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def reset(conn: socket.socket) -> None:
    """Closes with a TCP RST instead of a FIN."""
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    conn.close()


class FaultServer:
    """A loopback HTTP/1.1 server whose behaviour is one switchable mode; subclasses
    answer a request in a mode with `respond`, returning whether to keep the connection."""

    MODES: tuple[str, ...] = ("up",)  # what set_mode accepts; each subclass lists its own

    def __init__(self, mode: str = "up"):
        self.mode = mode
        self.port = 0
        self._stop = False
        self._listener = self._bind()
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def set_mode(self, mode: str) -> None:
        if mode not in self.MODES:
            raise ValueError(f"{type(self).__name__}: unknown mode {mode!r} (one of {', '.join(self.MODES)})")
        self.mode = mode

    def close(self) -> None:
        self._stop = True

    def _bind(self) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        return listener

    def _accept_loop(self) -> None:
        while not self._stop:
            if self.mode == "refuse":
                if self._listener is not None:
                    self._listener.close()
                    self._listener = None
                time.sleep(0.01)
                continue
            if self._listener is None:
                self._listener = self._bind()
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(None)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
        if self._listener is not None:
            self._listener.close()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        session: dict = {}  # per connection, for subclasses (e.g. a connection upstream)
        try:
            while not self._stop:
                request = read_request(reader)
                if request is None:
                    break
                mode = self.mode
                if mode in ("refuse", "reset"):
                    self.log(request, mode, "reset")
                    reset(conn)
                    return
                if mode == "hang":
                    self.log(request, mode, "hung")
                    self.hold(conn, mode)
                    break
                if not self.respond(conn, request, mode, session):
                    break
        except Exception:  # a client or an upstream that broke off: end this connection
            pass
        finally:
            for resource in session.values():
                resource.close()
            try:
                conn.close()
            except OSError:
                pass

    def hold(self, conn: socket.socket, mode: str) -> None:
        """Keeps a request unanswered while the mode lasts and the client stays."""
        deadline = time.monotonic() + HANG_LIMIT
        while self.mode == mode and time.monotonic() < deadline and not self._stop:
            readable, _, _ = select.select([conn], [], [], 0.05)
            if readable and not conn.recv(1, socket.MSG_PEEK):
                return  # the client gave up

    def log(self, request: Request, mode: str, outcome: str) -> None:
        pass

    def respond(self, conn: socket.socket, request: Request, mode: str, session: dict) -> bool:
        raise NotImplementedError


class TableProxy(FaultServer):
    """DynamoDB (moto_server at `upstream`, e.g. "127.0.0.1:5000") behind a fault switch."""

    MODES = ("up", "refuse", "hang", "error500", "garbage")
    SLOW = 0.25  # seconds: an upstream answer this slow may have outlived the SDK's attempt

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.calls: Counter = Counter()  # (mode, operation, outcome) -> count
        self.failures_up: list[float] = []  # arrivals of `up` requests that failed or were slow
        self._garbage = 0
        self._lock = threading.Lock()
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    def log(self, request: Request, mode: str, outcome: str) -> None:
        operation = request.headers.get("x-amz-target", "?").rpartition(".")[2]
        with self._lock:
            self.calls[(mode, operation, outcome)] += 1

    def respond(self, conn: socket.socket, request: Request, mode: str, session: dict) -> bool:
        if mode == "up":
            return self._forward(conn, request, session)
        if mode == "error500":
            self.log(request, mode, "500")
            body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                               "message": "soak: injected failure"}).encode()
            conn.sendall(response(500, "Internal Server Error", body,
                                  {"content-type": "application/x-amz-json-1.0",
                                   "x-amzn-requestid": "soak"}))
            return True
        # garbage: a different kind of nonsense each time
        self._garbage += 1
        variant = self._garbage % 5
        self.log(request, mode, f"garbage{variant}")
        json_type = {"content-type": "application/x-amz-json-1.0"}
        if variant == 0:
            conn.sendall(response(200, "OK", os.urandom(64), json_type))
        elif variant == 1:
            conn.sendall(response(200, "OK", b'{"Item": {"PK": {"S": "JWKS#', json_type))
        elif variant == 2:
            conn.sendall(response(200, "OK", b'{"Item": 42, "Responses": 42}', json_type))
        elif variant == 3:
            conn.sendall(response(200, "OK", b"<html><body>502 Bad Gateway</body></html>",
                                  {"content-type": "text/html"}))
        else:
            conn.sendall(b"HTTP/1.1 2OO 0K\r\nthis is not HTTP\r\n\r\n")
            return False
        return True

    def _forward(self, conn: socket.socket, request: Request, session: dict) -> bool:
        operation = request.headers.get("x-amz-target", "?").rpartition(".")[2]
        if "upstream" not in session:
            host, port = self.upstream.rsplit(":", 1)
            session["upstream"] = HTTPConnection(host, int(port), timeout=10)
        upstream = session["upstream"]
        try:
            headers = {k: v for k, v in request.headers.items() if k not in HOP_BY_HOP}
            upstream.request(request.method, request.path, body=request.body, headers=headers)
            answer = upstream.getresponse()
            body = answer.read()
        except (OSError, HTTPException):
            upstream.close()  # reconnects at the next request
            self._failed_up(request, operation, "upstream error")
            raise
        headers = {k: v for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP}
        status, reason = answer.status, answer.reason
        slow = time.monotonic() - request.arrived >= self.SLOW
        try:
            conn.sendall(response(status, reason, body, headers))
        except OSError:
            self._failed_up(request, operation, "client gone")
            raise
        if slow:
            self._failed_up(request, operation, "slow")
        else:
            self.log(request, "up", str(status))
        return True

    def _failed_up(self, request: Request, operation: str, outcome: str) -> None:
        with self._lock:
            self.calls[("up", operation, outcome)] += 1
            self.failures_up.append(request.arrived)


@dataclass
class JwksRequest:
    arrived: float  # time.monotonic()
    mode: str
    outcome: str  # "served" (with the kids in `kids`), "500", "hung", "garbage:…", "stalled", "reset"
    kids: tuple = ()


class JwksServer(FaultServer):
    """The issuer's JWKS endpoint; `document()` gives the JSON served in mode `up`."""

    MODES = ("up", "error500", "hang", "garbage", "stall", "reset", "refuse")
    GARBAGE = ("not-json", "truncated", "empty-set", "unusable-keys", "too-large", "not-a-set")

    def __init__(self, document):
        self.document = document  # () -> (bytes, tuple of kids)
        self.requests: list[JwksRequest] = []
        self._garbage = 0
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/.well-known/jwks.json"

    def log(self, request: Request, mode: str, outcome: str, kids: tuple = ()) -> None:
        self.requests.append(JwksRequest(request.arrived, mode, outcome, kids))

    def respond(self, conn: socket.socket, request: Request, mode: str, session: dict) -> bool:
        json_type = {"content-type": "application/json"}
        body, kids = self.document()
        if mode == "up":
            self.log(request, mode, "served", kids)
            conn.sendall(response(200, "OK", body, json_type))
            return True
        if mode == "error500":
            self.log(request, mode, "500")
            conn.sendall(response(500, "Internal Server Error", b"upstream exploded", {}))
            return True
        if mode == "stall":
            self.log(request, mode, "stalled")
            whole = response(200, "OK", body, json_type)
            conn.sendall(whole[: len(whole) - len(body) // 2])
            self.hold(conn, mode)
            return False
        kind = self.GARBAGE[self._garbage % len(self.GARBAGE)]
        self._garbage += 1
        self.log(request, mode, f"garbage:{kind}")
        garbage = {
            "not-json": b"<html><h1>Service Unavailable</h1></html>",
            "truncated": body[: len(body) // 3],
            "empty-set": b'{"keys": []}',
            "unusable-keys": json.dumps({"keys": [
                {"kty": "oct", "kid": "rsa-1", "k": "c2VjcmV0"},
                {"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "enc", "n": "AQAB", "e": "AQAB"},
            ]}).encode(),
            "too-large": b'{"keys": [], "padding": "' + b"x" * (300 * 1024) + b'"}',
            "not-a-set": json.dumps(random.choice([[1, 2, 3], {"keys": "none"}, "keys", None])).encode(),
        }[kind]
        conn.sendall(response(200, "OK", garbage, json_type))
        return True
