"""docs/signaling.md and docs/configuration.md are executable: this test runs
their examples against real relays so the documents cannot drift from the code.

- Every fenced block whose info string starts with `jsonrpc` is run, in
  document order, against ONE fresh relay. `> LINE` sends LINE as is (plus a
  newline); `< LINE` reads the next line from that connection and compares it
  with LINE as JSON, structurally and in key order. In expected lines the
  strings "<any>", "<number>" and "<string>" match any value, any number and
  any string; "<epoch>" matches this relay's epoch (from relay.info).
  Blocks run on an unrestricted control client (TLS, certificate from the
  configured CA, no [client] group); `jsonrpc client=limited` blocks run on a
  Unix socket connection whose uid a [client limited] group limits to tenant
  "acme". Both connections live for the whole document, so events a
  connection receives must appear in its blocks. After each block and at the
  end nothing unexpected may be waiting on either connection.
- Plain ```json blocks tagged `example=NAME` show replies that need a special
  relay (a too-long line, too many connections, a refused uid); each has a
  test below that produces the line and compares it the same way.
- deploy/prism.conf.sample must start a relay that answers relay.info, and
  every key relay/base/config.c reads must be documented in docs/configuration.md.

Environment: PRISM, PRISMCTL as for harness.py; run from anywhere.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGNALING_MD = os.path.join(ROOT, "docs", "signaling.md")
CONFIGURATION_MD = os.path.join(ROOT, "docs", "configuration.md")
SAMPLE_CONF = os.path.join(ROOT, "deploy", "prism.conf.sample")
CONFIG_C = os.path.join(ROOT, "relay", "base", "config.c")
WORKERS = 2  # relay.info examples show "workers":2


class Block:
    def __init__(self, index, line_no, info, lines):
        self.index = index
        self.line_no = line_no  # of the opening fence
        self.info = info
        self.attrs = dict(a.split("=", 1) for a in info.split()[1:] if "=" in a)
        self.lines = lines      # [(doc line number, text)]

    def name(self):
        return f"block {self.index} ({self.info!r}, {os.path.basename(SIGNALING_MD)}:{self.line_no})"


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def fenced_blocks(path):
    """Yields (opening line number, info string, [(line number, text)])."""
    doc = read_text(path).split("\n")
    i = 0
    while i < len(doc):
        m = re.match(r"^```(.*)$", doc[i])
        if m is None:
            i += 1
            continue
        start, info, body = i + 1, m.group(1).strip(), []
        i += 1
        while i < len(doc) and doc[i] != "```":
            body.append((i + 1, doc[i]))
            i += 1
        i += 1
        yield start, info, body


def jsonrpc_blocks(path):
    blocks = []
    for start, info, body in fenced_blocks(path):
        if info.split()[:1] == ["jsonrpc"]:
            blocks.append(Block(len(blocks) + 1, start, info, body))
    return blocks


def example_blocks(path):
    """{name: [(line number, JSON text)]} of ```json example=NAME blocks."""
    out = {}
    for start, info, body in fenced_blocks(path):
        words = info.split()
        if words[:1] == ["json"]:
            attrs = dict(a.split("=", 1) for a in words[1:] if "=" in a)
            if "example" in attrs:
                out[attrs["example"]] = [(n, t) for n, t in body if t.strip()]
    return out


def mismatch(expected, actual, epoch, path="$"):
    """None if `actual` matches `expected`, else a description of the first difference."""
    if expected == "<any>":
        return None
    if expected == "<epoch>":
        return None if actual == epoch else f"{path}: expected this relay's epoch {epoch}, got {actual!r}"
    if expected == "<number>":
        ok = isinstance(actual, (int, float)) and not isinstance(actual, bool)
        return None if ok else f"{path}: expected a number, got {actual!r}"
    if expected == "<string>":
        return None if isinstance(actual, str) else f"{path}: expected a string, got {actual!r}"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {actual!r}"
        if list(expected) != list(actual):
            return f"{path}: keys {list(actual)} differ from the documented {list(expected)}"
        for k in expected:
            d = mismatch(expected[k], actual[k], epoch, f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{path}: expected {expected!r}, got {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            d = mismatch(e, a, epoch, f"{path}[{i}]")
            if d:
                return d
        return None
    if type(expected) is not type(actual) or expected != actual:
        return f"{path}: expected {expected!r}, got {actual!r}"
    return None


def read_raw_line(client, timeout):
    """The next line (bytes) from a harness.Client, or None after `timeout` s."""
    client.s.settimeout(timeout)
    try:
        while b"\n" not in client.buf:
            chunk = client.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed by the relay")
            client.buf += chunk
    except (socket.timeout, TimeoutError):
        return None
    finally:
        client.s.settimeout(10)
    line, client.buf = client.buf.split(b"\n", 1)
    return line


class StandaloneRelay:
    """A prism started on a config text of our own (harness.Relay insists on
    its own config and on a Unix client that may call relay.info)."""

    def __init__(self, config_text, dirname):
        self.dir = dirname
        self.config = os.path.join(dirname, "prism.conf")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.stderr = open(os.path.join(dirname, "stderr.txt"), "w+")
        self.proc = subprocess.Popen([harness.PRISM, "--config", self.config],
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)

    def connect(self, sock_path, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stderr.seek(0)
                raise RuntimeError(f"prism exited with {self.proc.returncode}: {self.stderr.read()}")
            try:
                return harness.Client(sock_path)
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("prism did not open its control socket")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
        self.stderr.close()
        return self.proc.returncode


class SignalingDocTest(unittest.TestCase):
    """Runs every `jsonrpc` block of docs/signaling.md, in order, on one relay."""

    def test_examples(self):
        blocks = jsonrpc_blocks(SIGNALING_MD)
        self.assertGreater(len(blocks), 10, "docs/signaling.md lost its examples")
        limited = f"[client limited]\nuid = {os.getuid()}\ntenants = acme\n"
        with harness.Relay(tls=True, workers=WORKERS, extra_config=limited,
                           args=("--media-ip", "127.0.0.1")) as relay:
            with relay.tls() as probe:
                epoch = probe.call("relay.info")["result"]["epoch"]
            conns = {"main": relay.tls(), "limited": relay.unix()}
            try:
                for block in blocks:
                    self.run_block(block, conns, epoch)
                for who, c in conns.items():
                    extra = read_raw_line(c, 0.3)
                    self.assertIsNone(extra, f"after the last block the {who} connection "
                                             f"received an undocumented line: {extra!r}")
            finally:
                for c in conns.values():
                    c.close()

    def run_block(self, block, conns, epoch):
        who = block.attrs.get("client", "main")
        self.assertIn(who, conns, f"{block.name()}: unknown client={who}")
        c = conns[who]
        self.assertTrue(block.lines, f"{block.name()} is empty")
        for line_no, text in block.lines:
            where = f"{block.name()}, line {line_no}"
            if text.startswith("> "):
                c.send_raw(text[2:].encode("utf-8") + b"\n")
            elif text.startswith("< "):
                try:
                    expected = json.loads(text[2:])
                except ValueError as e:
                    self.fail(f"{where}: the expected line is not JSON ({e}): {text}")
                try:
                    raw = read_raw_line(c, 10)
                except EOFError as e:
                    self.fail(f"{where}: {e} while waiting for {text}")
                self.assertIsNotNone(raw, f"{where}: no line within 10 s; expected {text}")
                actual = json.loads(raw)
                diff = mismatch(expected, actual, epoch)
                if diff:
                    self.fail(f"{where}: {diff}\n  documented: {text[2:]}\n"
                              f"  relay sent: {raw.decode('utf-8', 'replace')}")
            elif text.strip():
                self.fail(f"{where}: lines must start with '> ' or '< ': {text!r}")
        extra = read_raw_line(c, 0.15)
        self.assertIsNone(extra, f"{block.name()}: the relay sent an undocumented line: {extra!r}")


class ExampleRepliesTest(unittest.TestCase):
    """The ```json example=NAME blocks of docs/signaling.md, produced for real."""

    @classmethod
    def setUpClass(cls):
        cls.examples = example_blocks(SIGNALING_MD)

    def expect(self, name, raw):
        self.assertIn(name, self.examples, f"docs/signaling.md has no ```json example={name} block")
        line_no, text = self.examples[name][-1]
        self.assertIsNotNone(raw, f"example={name}: the relay sent nothing")
        diff = mismatch(json.loads(text), json.loads(raw), None)
        if diff:
            self.fail(f"example={name} (signaling.md:{line_no}): {diff}\n  relay sent: {raw!r}")

    def test_overlong_line(self):
        with harness.Relay(workers=1) as relay, relay.unix() as c:
            c.send_raw(b'{"x":"' + b"a" * (1024 * 1024) + b'"}\n')
            self.expect("overlong", read_raw_line(c, 10))
            # the connection stays usable
            self.assertIn("result", c.call("relay.info"))

    def test_too_many_connections(self):
        d = tempfile.mkdtemp(prefix="prism-doc-")
        sock = os.path.join(d, "control.sock")
        r = StandaloneRelay(f"[control]\nsocket = {sock}\nmax_connections = 1\n"
                            f"[log]\nfile = {d}/prism.log\naudit_file = {d}/audit.log\n"
                            "[media]\nworkers = 1\n", d)
        try:
            with r.connect(sock) as first:
                self.assertIn("result", first.call("relay.info"))
                with harness.Client(sock) as second:
                    self.expect("too-many-connections", read_raw_line(second, 10))
        finally:
            self.assertEqual(r.stop(), 0)
            shutil.rmtree(d, ignore_errors=True)

    def test_uid_refused(self):
        d = tempfile.mkdtemp(prefix="prism-doc-")
        sock = os.path.join(d, "control.sock")
        other = 4242 if os.getuid() != 4242 else 4243
        r = StandaloneRelay(f"[control]\nsocket = {sock}\nallow_uids = {other}\n"
                            f"[log]\nfile = {d}/prism.log\naudit_file = {d}/audit.log\n"
                            "[media]\nworkers = 1\n", d)
        try:
            with r.connect(sock) as c:
                self.expect("uid-refused", read_raw_line(c, 10))
                self.assertRaises(EOFError, read_raw_line, c, 10)
        finally:
            self.assertEqual(r.stop(), 0)
            shutil.rmtree(d, ignore_errors=True)


class ConfigurationDocTest(unittest.TestCase):
    def test_every_key_documented(self):
        src = read_text(CONFIG_C)
        keys = re.findall(r'\{"(\w+)", "(\w+)", KEY_', src)
        self.assertGreater(len(keys), 10, "could not read the key table of relay/base/config.c")
        doc = read_text(CONFIGURATION_MD)
        sample = read_text(SAMPLE_CONF)
        for group, key in keys:
            self.assertIn(f"`{group}.{key}`", doc, f"docs/configuration.md misses {group}.{key}")
            self.assertRegex(sample, rf"(?m)^#? ?{key} = ",
                             f"deploy/prism.conf.sample misses {key} (group [{group}])")
        main_c = read_text(os.path.join(ROOT, "relay", "main.c"))
        for option in re.findall(r'\{"([a-z-]+)", (?:required|no)_argument', main_c):
            self.assertIn(f"--{option}", doc, f"docs/configuration.md misses --{option}")

    def test_sample_config_starts(self):
        """The sample, with its paths moved to a temp dir, starts a relay."""
        d = tempfile.mkdtemp(prefix="prism-sample-")
        sock = os.path.join(d, "control.sock")
        text = read_text(SAMPLE_CONF)
        moves = {"socket": sock, "file": os.path.join(d, "prism.log"),
                 "audit_file": os.path.join(d, "audit.log"),
                 "listen": f"127.0.0.1:{harness.free_port()}"}  # [metrics]
        for key, value in moves.items():
            text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
            self.assertEqual(n, 1, f"the sample should set {key} exactly once")
        # uid allow-list: let this test's uid in
        text = re.sub(r"(?m)^allow_uids = .*$", f"allow_uids = {os.getuid()}", text)
        r = StandaloneRelay(text, d)
        try:
            c = r.connect(sock)
            info = c.call("relay.info")
            self.assertIn("result", info, info)
            self.assertEqual(info["result"]["draining"], False)
            c.close()
        finally:
            self.assertEqual(r.stop(), 0)
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
