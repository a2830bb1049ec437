"""A seeded JSON-RPC fault proxy between nodes and a local chain (fault trials only; loopback only).

Listens on 127.0.0.1 and forwards each POST to an upstream RPC on the same machine. While `active`, a share
`rate` of calls (drawn from a seeded generator, so a run can be repeated) gets one fault:

* ``drop``   the call is never forwarded; the connection is closed without an answer;
* ``lost``   the call IS forwarded (a transaction is mined) but the answer is dropped: the client cannot tell
             whether it happened, the case that makes careless retries send a transaction twice;
* ``delay``  forwarded after a pause of up to ``max_delay`` seconds;
* ``error``  answered with a JSON-RPC error without being forwarded.

Bounded: it serves at most ``max_calls`` calls and stops by itself after ``lifetime`` seconds.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

KINDS = ("drop", "lost", "delay", "error")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class RpcFaultProxy:
    """``RpcFaultProxy(upstream, rate=0.15, seed=1).start()``; point clients at ``.uri``; ``.stop()``."""

    def __init__(self, upstream: str, rate: float = 0.15, seed: int = 0, kinds: tuple[str, ...] = KINDS,
                 max_delay: float = 1.0, lifetime: float = 3600.0, max_calls: int = 1_000_000):
        host = urlparse(upstream).hostname
        if host not in LOOPBACK:
            raise ValueError(f"the fault proxy only forwards to this machine (loopback), not to {host!r}")
        if not 0.0 <= rate <= 1.0 or not set(kinds) <= set(KINDS) or not kinds:
            raise ValueError(f"rate must be in [0, 1] and kinds a subset of {KINDS}")
        self.upstream, self.rate, self.kinds, self.max_delay = upstream, rate, tuple(kinds), max_delay
        self.lifetime, self.max_calls = lifetime, max_calls
        self.active = False                     # faults only while set (nodes start cleanly first)
        self.calls = 0                          # every call seen
        self.faulted_calls = 0                  # calls seen while active that got a fault
        self.active_calls = 0                   # calls seen while active
        self.faults: Counter[str] = Counter()   # by kind
        self.fault_methods: Counter[str] = Counter()  # "kind:method"
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._timer: threading.Timer | None = None
        self._port = 0

    @property
    def uri(self) -> str:
        assert self._port, "start() first"
        return f"http://127.0.0.1:{self._port}"

    def _decide(self, method: str) -> tuple[str | None, float]:
        with self._lock:
            self.calls += 1
            if self.calls > self.max_calls:
                return "drop", 0.0
            if not self.active:
                return None, 0.0
            self.active_calls += 1
            if self._rng.random() >= self.rate:
                return None, 0.0
            kind = self._rng.choice(self.kinds)
            self.faulted_calls += 1
            self.faults[kind] += 1
            self.fault_methods[f"{kind}:{method}"] += 1
            return kind, self._rng.uniform(0.05, self.max_delay)

    def _forward(self, body: bytes) -> bytes:
        req = urllib.request.Request(self.upstream, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read()

    def start(self) -> "RpcFaultProxy":
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = json.loads(body)
                    first = payload[0] if isinstance(payload, list) and payload else payload
                    method, rid = str(first.get("method", "?")), first.get("id")
                except (ValueError, AttributeError):
                    method, rid = "?", None
                kind, delay = proxy._decide(method)
                if kind == "drop":
                    self.close_connection = True
                    return
                if kind == "error":
                    self._answer(json.dumps({"jsonrpc": "2.0", "id": rid, "error": {
                        "code": -32603, "message": "fault proxy: injected error"}}).encode())
                    return
                if kind == "delay":
                    time.sleep(delay)
                try:
                    answer = proxy._forward(body)
                except OSError:
                    self.close_connection = True
                    return
                if kind == "lost":
                    self.close_connection = True
                    return
                self._answer(answer)

            def _answer(self, data: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # a client killed mid-call (SIGKILL trials): quiet
                pass

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="rpc-fault-proxy", daemon=True).start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._server is not None:
            server, self._server = self._server, None
            server.shutdown()
            server.server_close()

    def stats(self) -> dict:
        return {"calls": self.calls, "active_calls": self.active_calls, "faulted_calls": self.faulted_calls,
                "fault_rate": self.faulted_calls / self.active_calls if self.active_calls else 0.0,
                "faults": dict(self.faults), "fault_methods": dict(self.fault_methods)}

    def __enter__(self) -> "RpcFaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
