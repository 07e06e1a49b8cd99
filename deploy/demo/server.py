#!/usr/bin/python3
"""Prism demo backend: the smallest collaboration backend that makes a call.

It serves the demo page (index.html, app.js) and turns the page's JSON calls
into control requests to the relay (../../docs/signaling.md). Python 3
standard library only. It is the reference for backend developers; the flow:

  page                      this backend                        relay
  POST /api/join  {bubble,name}
                            tenant.create, bubble.create (`exists` is fine)
                            peer.join {peer: a fresh random id}
                  <- {peer, token}       (the name stays here: the relay
                                          never sees display names)
  GET /api/events (Server-Sent Events) <- roster + the relay's events for
                                          this peer, from the one
                                          events.subscribe connection
  POST /api/publish {offer}   peer.publish -> {answer}    upstream transport
  POST /api/subscribe         peer.subscribe -> {offer, revision} downstream
  POST /api/answer {answer, revision}  peer.answer
  POST /api/candidate {transport, candidate|null}  peer.candidate (trickle)
                   <- event peer.offer   when publishers come and go: the page
                                         answers with /api/answer again
                   <- event peer.candidate  relay candidates (trickle)
  POST /api/leave           peer.leave (also when the page's event stream has
                            been gone for GRACE_S: a closed tab)

Every call but join carries {bubble, peer, token}; the token, returned by
join, proves the page owns that peer (peer ids are visible to the others:
they are the stream ids in each downstream offer). Relay errors reach the page
as HTTP 4xx/5xx with the relay's error object: {"error": {code, message,
data: {reason}}}.

Connections to the relay: ONE control connection for every request (the
relay answers in order; a lock keeps one request in flight, replies matched by
id), and ONE connection that called events.subscribe. If that one drops it
reconnects with `since` (the last seq seen) and `epoch`; if the relay no
longer holds those events, or restarted, it resyncs from bubble.info.

Usage: server.py --control /path/to/control.sock [--listen 127.0.0.1:8080]
       [--tenant demo]
   or: server.py --relay build/prism   (starts that relay too; it may carry
       arguments: --relay "build/prism --media-ip 127.0.0.1")
Browsers allow the camera only in a secure context: open the page as
http://127.0.0.1:PORT or http://localhost:PORT, or serve it behind HTTPS.
"""
import argparse
import atexit
import hmac
import http.server
import json
import os
import re
import secrets
import shutil
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8")}
MAX_BODY = 1 << 20   # bytes; the relay's control.max_line is 1 MiB too
GRACE_S = 30         # a peer whose page has had no event stream this long leaves
HEARTBEAT_S = 15     # SSE comment interval: finds closed pages, keeps proxies quiet

# Relay error reason -> HTTP status for the page.
HTTP_STATUS = {"not_found": 404, "exists": 409, "quota_exceeded": 429, "forbidden": 403,
               "bad_sdp": 400, "unsupported": 501, "draining": 503, "overloaded": 503,
               "internal": 500}


class RelayError(Exception):
    """An error reply from the relay (`error` is its error object), or a
    failure to reach it (made up here, reason `relay_unreachable`)."""

    def __init__(self, error):
        super().__init__(error.get("message", "relay error"))
        self.error = error

    @property
    def reason(self):
        return (self.error.get("data") or {}).get("reason")

    def http_status(self):
        if self.reason in HTTP_STATUS:
            return HTTP_STATUS[self.reason]
        if self.error.get("code") == -32602:   # invalid params: the page sent a bad id
            return 400
        return 502


def unreachable(exc):
    return RelayError({"message": f"relay unreachable: {exc}",
                       "data": {"reason": "relay_unreachable"}})


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError:
        s.close()
        raise
    return s


class Control:
    """The one request connection. call() is thread-safe: the lock keeps one
    request in flight, so the next reply line is ours (events never come on
    this connection: it never subscribes)."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.sock = self.reader = None
        self.next_id = 1

    def call(self, method, params=None):
        """Returns the request's `result`, or raises RelayError."""
        with self.lock:
            msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
            self.next_id += 1
            if params is not None:
                msg["params"] = params
            line = json.dumps(msg).encode() + b"\n"
            # A send that fails has not reached the relay (restarted, say):
            # reconnect and send once more. A failure after sending is not
            # retried: the request may have been carried out.
            for attempt in (1, 2):
                try:
                    if self.sock is None:
                        self.sock = connect(self.path)
                        self.sock.settimeout(30)
                        self.reader = self.sock.makefile("rb")
                    self.sock.sendall(line)
                    break
                except OSError as e:
                    self._close()
                    if attempt == 2:
                        raise unreachable(e) from None
            try:
                while True:
                    raw = self.reader.readline()
                    if not raw:
                        raise OSError("connection closed")
                    reply = json.loads(raw)
                    if reply.get("id") == msg["id"]:
                        break
            except (OSError, ValueError) as e:
                self._close()
                raise unreachable(e) from None
        if "error" in reply:
            raise RelayError(reply["error"])
        return reply.get("result", {})

    def _close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = self.reader = None


class Member:
    """A page in a bubble: what only the backend knows about a peer."""

    def __init__(self, bubble, peer, name):
        self.bubble, self.peer, self.name = bubble, peer, name
        self.token = secrets.token_hex(16)
        self.outbox = []          # messages for the page, in order (under Demo.cond)
        self.stream_gen = 0       # bumped by each new event stream; older ones end
        self.streaming = False    # an event stream is attached
        self.last_seen = time.monotonic()
        self.gone = False         # left: its event stream ends


class Demo:
    """Membership bookkeeping, event routing and the API operations."""

    def __init__(self, control, tenant):
        self.control = control
        self.tenant = tenant
        self.members = {}                 # (bubble, peer) -> Member
        self.cond = threading.Condition()  # guards members and every outbox
        self.membership = threading.Lock()  # one join/leave at a time (bubble cleanup)

    # --- API operations (HTTP handler threads) ---

    def ids(self, m):
        return {"tenant": self.tenant, "bubble": m.bubble, "peer": m.peer}

    def join(self, bubble, name):
        with self.membership:
            for method, params in (("tenant.create", {"tenant": self.tenant}),
                                   ("bubble.create", {"tenant": self.tenant, "bubble": bubble})):
                try:
                    self.control.call(method, params)
                except RelayError as e:
                    if e.reason != "exists":
                        raise
            peer = "p-" + secrets.token_hex(6)   # random: names never reach the relay
            self.control.call("peer.join", {"tenant": self.tenant, "bubble": bubble,
                                            "peer": peer})
            m = Member(bubble, peer, name)
            with self.cond:
                self.members[(bubble, peer)] = m
                self._roster_changed(bubble)
        return m

    def leave(self, m, reason="left"):
        with self.membership:
            try:
                self.control.call("peer.leave", self.ids(m))
            except RelayError as e:
                if e.reason != "not_found":
                    raise
            self._forget(m, reason)
            with self.cond:
                empty = not any(b == m.bubble for b, _ in self.members)
            if empty:   # the last one out deletes the bubble: the relay stays tidy
                try:
                    self.control.call("bubble.delete", {"tenant": self.tenant,
                                                        "bubble": m.bubble})
                except RelayError:
                    pass

    def _forget(self, m, reason):
        with self.cond:
            if self.members.pop((m.bubble, m.peer), None) is None:
                return
            m.outbox.append({"type": "closed", "reason": reason})
            m.gone = True
            self._roster_changed(m.bubble)

    def member(self, body):
        """The Member a request is about, checked against its token."""
        with self.cond:
            m = self.members.get((str(body.get("bubble")), str(body.get("peer"))))
        if m is None:
            raise RelayError({"message": "no such peer here", "data": {"reason": "not_found"}})
        if not hmac.compare_digest(str(body.get("token", "")), m.token):
            raise RelayError({"message": "bad token", "data": {"reason": "forbidden"}})
        m.last_seen = time.monotonic()
        return m

    # --- events to pages ---

    def _roster_changed(self, bubble):
        """Sends the bubble's roster to each of its pages. Caller holds cond."""
        roster = [{"peer": m.peer, "name": m.name}
                  for (b, _), m in self.members.items() if b == bubble]
        for (b, _), m in self.members.items():
            if b == bubble:
                m.outbox.append({"type": "roster", "peers": roster})
        self.cond.notify_all()

    def on_event(self, method, params):
        """A relay event (events thread): to the page it concerns."""
        bubble, peer = params.get("bubble"), params.get("peer")
        msg = {k: v for k, v in params.items() if k not in ("tenant", "seq", "epoch")}
        msg["type"] = method
        with self.cond:
            if method in ("peer.offer", "peer.candidate", "peer.state"):
                targets = [self.members.get((bubble, peer))]
            elif method == "bubble.speaker":   # everyone in the bubble highlights the speaker
                targets = [m for (b, _), m in self.members.items() if b == bubble]
            else:
                return
            for m in filter(None, targets):
                m.outbox.append(msg)
            self.cond.notify_all()

    def resync(self):
        """Events were lost (the relay restarted, or we were away too long):
        drop members the relay no longer has; tell the others to subscribe
        again, since a peer.offer may have been missed."""
        with self.cond:
            bubbles = {b for b, _ in self.members}
        for bubble in bubbles:
            try:
                info = self.control.call("bubble.info", {"tenant": self.tenant,
                                                         "bubble": bubble})
                present = {p["peer"] for p in info.get("peers", [])}
            except RelayError as e:
                if e.reason != "not_found":
                    continue   # unreachable: the next reconnect resyncs again
                present = set()
            with self.cond:
                here = [m for (b, _), m in self.members.items() if b == bubble]
            for m in here:
                if m.peer not in present:
                    self._forget(m, "the relay no longer has this peer")
                else:
                    with self.cond:
                        m.outbox.append({"type": "resync"})
                        self.cond.notify_all()

    def janitor(self):
        """Leaves, on behalf of closed pages, peers with no event stream for
        GRACE_S (the page also sends /api/leave on pagehide when it can)."""
        while True:
            time.sleep(GRACE_S / 3)
            now = time.monotonic()
            with self.cond:
                stale = [m for m in self.members.values()
                         if not m.streaming and now - m.last_seen > GRACE_S]
            for m in stale:
                try:
                    self.leave(m, "page gone")
                except RelayError:
                    pass


def event_loop(demo, path):
    """The events connection (its own thread): events.subscribe, then every
    event line to demo.on_event. When dropped it reconnects and resumes after
    the last seq seen; if that is impossible it resyncs (Demo.resync)."""
    since = epoch = None   # the last event seen; None: unknown, resync
    while True:
        try:
            with connect(path) as s:
                f = s.makefile("rb")

                def subscribe(id, params):
                    s.sendall(json.dumps({"jsonrpc": "2.0", "id": id, "params": params,
                                          "method": "events.subscribe"}).encode() + b"\n")
                    raw = f.readline()   # the reply comes before any event
                    if not raw:
                        raise OSError("connection closed")
                    return json.loads(raw)

                params = {"tenants": [demo.tenant]}
                if since is not None:
                    params.update(since=since, epoch=epoch)
                reply = subscribe(1, params)
                if "error" in reply and since is not None \
                        and (reply["error"].get("data") or {}).get("reason") == "not_found":
                    # The relay no longer holds the events after `since`, or it
                    # restarted (another epoch): subscribe live, then rebuild.
                    since = None
                    reply = subscribe(2, {"tenants": [demo.tenant]})
                if "error" in reply:
                    raise OSError(f"events.subscribe: {reply['error']}")
                if since is None:   # live now; what happened before is unknown
                    demo.resync()
                for raw in f:
                    msg = json.loads(raw)
                    params = msg.get("params") or {}
                    if "seq" in params:
                        since, epoch = params["seq"], params.get("epoch")
                    demo.on_event(msg.get("method"), params)
                print("events connection closed; reconnecting", file=sys.stderr, flush=True)
        except (OSError, ValueError) as e:
            print(f"events connection: {e}; reconnecting", file=sys.stderr, flush=True)
        time.sleep(1)


class Handler(http.server.BaseHTTPRequestHandler):
    demo = None   # set in main()

    def log_message(self, fmt, *args):   # tokens are secrets: not in the log
        line = re.sub(r"token=[0-9a-f]+", "token=-", fmt % args)
        sys.stderr.write(f"{self.address_string()} {line}\n")

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path in STATIC:
            name, ctype = STATIC[url.path]
            with open(os.path.join(HERE, name), "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(body)
        elif url.path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
        elif url.path == "/api/events":
            q = urllib.parse.parse_qs(url.query)
            try:
                m = self.demo.member({k: v[0] for k, v in q.items()})
            except RelayError as e:
                return self.reply(e.http_status(), {"error": e.error})
            self.stream(m)
        else:
            self.reply(404, {"error": {"message": "not found"}})

    def stream(self, m):
        """Server-Sent Events: one JSON object per `data:` line, until the page
        goes away or the peer leaves. A newer stream for the same peer (the
        page's EventSource reconnecting) replaces this one."""
        demo = self.demo
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        with demo.cond:
            m.stream_gen += 1
            gen = m.stream_gen
            m.streaming = True
            roster = [{"peer": o.peer, "name": o.name}
                      for (b, _), o in demo.members.items() if b == m.bubble]
            m.outbox = [{"type": "roster", "peers": roster}] + [
                x for x in m.outbox if x["type"] != "roster"]
            demo.cond.notify_all()
        try:
            self.wfile.write(b"retry: 2000\n\n")
            while True:
                with demo.cond:
                    demo.cond.wait_for(lambda: m.outbox or m.gone or m.stream_gen != gen,
                                       timeout=HEARTBEAT_S)
                    if m.stream_gen != gen:
                        return
                    batch, m.outbox = m.outbox, []
                    gone = m.gone
                chunk = b"".join(b"data: " + json.dumps(x).encode() + b"\n\n" for x in batch)
                self.wfile.write(chunk or b": keepalive\n\n")
                self.wfile.flush()
                if gone:
                    return
        except OSError:
            pass
        finally:
            with demo.cond:
                if m.stream_gen == gen:
                    m.streaming = False
                    m.last_seen = time.monotonic()

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.reply(413, {"error": {"message": "body too large"}})
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return self.reply(400, {"error": {"message": f"bad JSON: {e}"}})
        op = url.path.removeprefix("/api/")
        try:
            self.reply(200, self.api(op, body))
        except KeyError as e:
            self.reply(400, {"error": {"message": f"missing field {e}"}})
        except RelayError as e:
            self.reply(e.http_status(), {"error": e.error})

    def api(self, op, body):
        demo, call = self.demo, self.demo.control.call
        if op == "join":
            name = str(body["name"]).strip()[:64]
            if not name:
                raise KeyError("name")
            m = demo.join(str(body["bubble"]), name)
            return {"peer": m.peer, "token": m.token}
        m = demo.member(body)
        ids = demo.ids(m)
        if op == "publish":
            return call("peer.publish", {**ids, "offer": body["offer"]})
        if op == "subscribe":
            return call("peer.subscribe", ids)
        if op == "answer":
            return call("peer.answer", {**ids, "answer": body["answer"],
                                        "revision": body["revision"]})
        if op == "candidate":
            return call("peer.candidate", {**ids, "transport": body["transport"],
                                           "candidate": body["candidate"]})
        if op == "leave":
            demo.leave(m)
            return {}
        raise RelayError({"message": f"no API call {op!r}", "data": {"reason": "not_found"}})


def start_relay(command):
    """--relay: runs a relay in a scratch directory; returns (process, socket)."""
    argv = shlex.split(command)
    d = tempfile.mkdtemp(prefix="prism-demo-")
    atexit.register(shutil.rmtree, d, True)
    sock = os.path.join(d, "control.sock")
    proc = subprocess.Popen([*argv, "--control", sock], cwd=d)
    for _ in range(200):
        try:
            Control(sock).call("relay.info")
            return proc, sock
        except RelayError:
            if proc.poll() is not None:
                sys.exit(f"{argv[0]} exited with {proc.returncode}")
            time.sleep(0.05)
    sys.exit(f"{argv[0]} did not answer on {sock}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--control", help="the relay's control socket")
    ap.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT (127.0.0.1:8080)")
    ap.add_argument("--tenant", default="demo", help="the tenant the demo uses (demo)")
    ap.add_argument("--relay", metavar="PRISM",
                    help="start this relay too (a command line: binary and arguments)")
    args = ap.parse_args()
    for sig in (signal.SIGINT, signal.SIGTERM):   # clean exit (stops --relay too)
        signal.signal(sig, lambda *_: sys.exit(0))
    relay = None
    if args.relay:
        relay, args.control = start_relay(args.relay)
    if not args.control:
        ap.error("--control PATH (or --relay PRISM) is required")
    host, _, port = args.listen.rpartition(":")
    Handler.demo = demo = Demo(Control(args.control), args.tenant)
    threading.Thread(target=event_loop, args=(demo, args.control), daemon=True).start()
    threading.Thread(target=demo.janitor, daemon=True).start()
    server = http.server.ThreadingHTTPServer((host.strip("[]") or "127.0.0.1", int(port)),
                                             Handler)
    server.daemon_threads = True
    print(f"demo: open http://{args.listen}/ (relay {args.control}, tenant {args.tenant})",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        if relay is not None:
            relay.terminate()
            try:
                relay.wait(timeout=15)
            except subprocess.TimeoutExpired:
                relay.kill()
                relay.wait()


if __name__ == "__main__":
    main()
