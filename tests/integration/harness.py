"""Test harness for integration tests: starts a real `prism` daemon in a
private temporary directory and talks to it over its control socket.

Everything a test needs is generated per run (REQUIREMENTS.md: separation of
test and production): config, TLS CA, server and client certificates. Uses
only Python's standard library and the `openssl` command line tool.

Environment: PRISM (path of the prism binary), PRISMCTL (prismctl).
"""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

# Absolute, so that tests may run them from any directory.
PRISM = os.path.abspath(os.environ.get("PRISM", "build/prism"))
PRISMCTL = os.path.abspath(os.environ.get("PRISMCTL", "build/signaling/prismctl"))


MAKE_CERTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy",
                          "make-certs.sh")


def log(*args):
    """Prints a test's progress to stderr at once (meson keeps it with the
    test's output; unittest's own lines interleave in order)."""
    print(*args, file=sys.stderr, flush=True)


def terminate(proc, timeout_s=10):
    """Stops a helper process the test started (a server beside the relay):
    SIGTERM, then SIGKILL if it has not exited within `timeout_s`; waits
    for it either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name):
    """An ECDSA P-256 CA: returns (cert, key) paths."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
            "-subj", f"/CN={name}", cwd=d)
    return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")


def make_cert(d, name, ca):
    """A leaf certificate signed by `ca` (a make_ca result)."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", ca[0], "-CAkey", ca[1],
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", cwd=d)
    return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")


def fingerprint(cert_path):
    with open(cert_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    import hashlib
    return hashlib.sha256(der).hexdigest()


class Relay:
    """A running prism. `extra_config` is appended to the generated config (a
    string, or a function of this Relay returning one, called once the
    certificates exist); with tls=True a TLS listener, a CA and certificates
    are set up."""

    def __init__(self, tls=False, extra_config="", args=(), workers=2):
        self.dir = tempfile.mkdtemp(prefix="prism-it-")
        self.sock = os.path.join(self.dir, "control.sock")
        self.audit = os.path.join(self.dir, "audit.log")
        self.log = os.path.join(self.dir, "prism.log")
        self.tls_port = None
        cfg = ["[control]", f"socket = {self.sock}"]
        if tls:
            # The operator's tool makes the material, so every TLS test covers it.
            subprocess.run([MAKE_CERTS, self.dir, "client"], check=True,
                           stdout=subprocess.DEVNULL)
            pair = lambda name: (os.path.join(self.dir, f"{name}.pem"),
                                 os.path.join(self.dir, f"{name}.key"))
            self.ca, self.server_cert, self.client_cert = pair("ca"), pair("server"), pair("client")
            self.tls_port = free_port()
            cfg += [f"tls_listen = 127.0.0.1:{self.tls_port}",
                    f"tls_cert = {self.server_cert[0]}",
                    f"tls_key = {self.server_cert[1]}",
                    f"tls_client_ca = {self.ca[0]}"]
        cfg += ["[log]", f"file = {self.log}", f"audit_file = {self.audit}", "level = debug",
                "[media]", f"workers = {workers}"]
        self.config = os.path.join(self.dir, "prism.conf")
        if callable(extra_config):
            extra_config = extra_config(self)
        with open(self.config, "w") as f:
            f.write("\n".join(cfg) + "\n" + extra_config)
        self.args = args
        self.start()

    def start(self):
        self.proc = subprocess.Popen([PRISM, "--config", self.config, *self.args])
        self.wait_ready()

    def restart(self):
        """Stops the relay (SIGTERM) and starts it again on the same config."""
        rc = self.stop()
        self.start()
        return rc

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prism exited with {self.proc.returncode}: "
                                   + open(self.log).read())
            try:
                with self.unix() as c:
                    if "result" in c.call("relay.info"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("prism did not become ready")

    def unix(self):
        return Client(self.sock)

    def tls(self, cert=None, ca=None, **ctx_opts):
        return Client.tls(self.tls_port, cert or self.client_cert, ca or self.ca[0], **ctx_opts)

    def ctl(self, *args, check=True):
        """Runs prismctl against this relay: returns (rc, stdout, stderr)."""
        p = subprocess.run([PRISMCTL, "--control", self.sock, *args], capture_output=True,
                           text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def stop(self, sig=signal.SIGTERM):
        """Stops the relay; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)
        return self.proc.returncode

    def close(self):
        """Stops the relay and removes its directory. A relay that does not
        stop cleanly (a crash, a sanitizer report, a hang) fails the test."""
        try:
            rc = self.stop()
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "no exit within 60 s of SIGTERM"
        shutil.rmtree(self.dir, ignore_errors=True)
        if rc != 0:
            raise RuntimeError(f"prism did not stop cleanly: {rc}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Client:
    """A JSON-RPC client on one connection (Unix or TLS)."""

    def __init__(self, path=None, sock=None):
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
        self.s = sock
        self.s.settimeout(30)  # generous: a noisy machine, sanitizer builds
        self.buf = b""
        self.next_id = 1

    @classmethod
    def tls(cls, port, cert, ca, min_version=None, max_version=None, seclevel0=False):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(ca)
        if cert is not None:
            ctx.load_cert_chain(cert[0], cert[1])
        if seclevel0:
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        if min_version:
            ctx.minimum_version = min_version
        if max_version:
            ctx.maximum_version = max_version
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        return cls(sock=ctx.wrap_socket(raw))

    def send_raw(self, data):
        self.s.sendall(data)

    def read_line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method, params=None, id=None):
        if id is None:
            id = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send_raw(json.dumps(msg).encode() + b"\n")
        return id

    def call(self, method, params=None):
        """Sends one request and returns its reply (skipping events)."""
        id = self.request(method, params)
        while True:
            msg = self.read_line()
            if msg.get("id") == id and "method" not in msg:
                return msg

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def prefer(ctl, tenant, bubble, peer, publisher, **pref):
    """peer.prefer over `ctl`: `peer`'s preference `pref` (paused, track,
    max_height, max_fps, ...) for `publisher`'s tracks; returns the reply."""
    return ctl.call("peer.prefer", {"tenant": tenant, "bubble": bubble, "peer": peer,
                                    "publisher": publisher, **pref})


def reason(reply):
    """The error reason of a reply, or None for a success."""
    err = reply.get("error")
    if err is None:
        return None
    return err.get("data", {}).get("reason", err["code"])
