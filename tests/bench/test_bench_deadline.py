"""prism-bench always stops by itself: against a fake relay that accepts the
control connection and leaves requests unanswered (a tiny Unix-socket
JSON-RPC server here, answering every method but the silent ones),
`prism-bench run`, `idle` and `control` exit non-zero within a bound, saying
"no reply to METHOD within N s" for the method left unanswered; and
`run --target janus` against an HTTP server that accepts and never answers
exits non-zero within a bound too."""
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time

from common import BENCH, check

TIMEOUT_S = 1  # --rpc-timeout-s
BOUND_S = 40   # every case must end well within this (the test's own limit)


class FakeRelay:
    """Accepts every connection on a Unix socket; answers each JSON-RPC
    request with an empty result (stats.get with zero counters), except the
    methods in `silent` ("*": all), which never get a reply."""

    def __init__(self, path, silent):
        self.silent = silent
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b""
        while True:
            try:
                data = c.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    req = json.loads(line)
                except ValueError:
                    continue
                method = req.get("method", "")
                if "*" in self.silent or method in self.silent or "id" not in req:
                    continue
                result = {}
                if method == "stats.get":
                    result = {"packets_in": 0, "bytes_in": 0, "packets_out": 0,
                              "bytes_out": 0}
                reply = {"jsonrpc": "2.0", "id": req["id"], "result": result}
                try:
                    c.sendall(json.dumps(reply).encode() + b"\n")
                except OSError:
                    return

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def bench(args, silent, name):
    """Runs prism-bench `args` against a FakeRelay leaving `silent`
    unanswered; returns (exit status, output, seconds taken)."""
    with tempfile.TemporaryDirectory(prefix="prism-bench-deadline-") as d:
        path = os.path.join(d, "control.sock")
        relay = FakeRelay(path, silent)
        t0 = time.monotonic()
        try:
            p = subprocess.run([BENCH, *args[:1], "--control", path, "--rpc-timeout-s",
                                str(TIMEOUT_S), *args[1:]], capture_output=True, text=True,
                               timeout=BOUND_S)
        except subprocess.TimeoutExpired as e:
            check(False, f"{name}: prism-bench did not stop within {BOUND_S} s",
                  f"{e.stdout}\n{e.stderr}")
        took = time.monotonic() - t0
        relay.close()
    text = p.stdout + p.stderr
    print(f"{name}: exit {p.returncode} in {took:.1f} s")
    return p.returncode, text, took


def expect_no_reply(name, args, silent, methods):
    rc, text, took = bench(args, silent, name)
    check(rc not in (0, 2), f"{name}: exit {rc}, expected a failure", text)
    pattern = rf"no reply to ({'|'.join(map(re.escape, methods))}) within {TIMEOUT_S} s"
    check(re.search(pattern, text) is not None, f"{name}: no '{pattern}' in the output", text)
    return text


RUN = ["run", "--bubbles", "1", "--peers", "2", "--duration", "2", "--audio-only", "--quiet"]
SETUP = ["events.subscribe", "tenant.create", "bubble.create"]

# A relay that answers nothing: set-up fails at its first deadline.
expect_no_reply("run, silent relay", RUN, {"*"}, SETUP)
# A relay that stops answering peer.join: the run ends, failing, with it.
text = expect_no_reply("run, peer.join unanswered", RUN, {"peer.join"}, ["peer.join"])
check(re.search(r"verdict: FAIL:.*no reply to peer\.join", text) is not None,
      "run, peer.join unanswered: the verdict does not name it", text)
# The baseline stats.get unanswered.
expect_no_reply("run, stats.get unanswered", RUN, {"stats.get"}, ["stats.get"])
# --ramp: the same stuck peer.join.
expect_no_reply("run --ramp, peer.join unanswered",
                ["run", "--ramp", "--peers", "2", "--max-peers", "4", "--ramp-step-s", "1",
                 "--audio-only", "--quiet"], {"peer.join"}, ["peer.join"])
# --threads 2: the endpoints' connections are the shards'.
expect_no_reply("run --threads 2, silent relay", RUN + ["--threads", "2"], {"*"},
                SETUP)

IDLE = ["idle", "--peers", "3", "--quiet"]
expect_no_reply("idle, silent relay", IDLE, {"*"}, ["tenant.create", "bubble.create"])
text = expect_no_reply("idle, peer.publish unanswered", IDLE, {"peer.publish"},
                       ["peer.publish"])
check("verdict: FAIL" in text, "idle: no failing verdict", text)

expect_no_reply("control, silent relay", ["control", "--cycles", "2"], {"*"}, ["tenant.create"])
expect_no_reply("control, peer.join unanswered", ["control", "--cycles", "2"], {"peer.join"},
                ["peer.join"])

# --target janus: an HTTP server that accepts and never answers.
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
port = srv.getsockname()[1]
t0 = time.monotonic()
try:
    p = subprocess.run([BENCH, "run", "--target", "janus", "--janus-url",
                        f"http://127.0.0.1:{port}/janus", "--janus-pid", str(os.getpid()),
                        "--rpc-timeout-s", str(TIMEOUT_S), "--bubbles", "1", "--peers", "2",
                        "--duration", "2", "--audio-only", "--quiet"],
                       capture_output=True, text=True, timeout=BOUND_S)
except subprocess.TimeoutExpired as e:
    check(False, f"janus: prism-bench did not stop within {BOUND_S} s", f"{e.stdout}\n{e.stderr}")
srv.close()
text = p.stdout + p.stderr
print(f"janus, silent HTTP server: exit {p.returncode} in {time.monotonic() - t0:.1f} s")
check(p.returncode not in (0, 2), f"janus: exit {p.returncode}, expected a failure", text)
check("no reply" in text, "janus: the failure does not say no reply came", text)
print("ok: prism-bench stops by itself when the relay does not answer")
