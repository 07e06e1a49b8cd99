"""Who may use the Unix control socket (PROTOCOL.md, "Transport and framing"):
the socket file's mode (0660) plus an allow-list of peer uids checked with
SO_PEERCRED. With no allow-list only the relay's own uid is let in; a refused
uid gets one `forbidden` error line, then the connection is closed. A
[client NAME] group with `uid` may limit that uid to some tenants.

The other uid is `nobody`, reached with os.setuid in a forked child, so these
cases need root (CI runs them as root); as another user only the allow-list
case that excludes the caller's own uid runs.
"""
import grp
import json
import os
import pwd
import socket
import stat
import time
import unittest

from harness import Relay, reason

IS_ROOT = os.geteuid() == 0
try:
    NOBODY = pwd.getpwnam("nobody")
    NOBODY_UID, NOBODY_GID = NOBODY.pw_uid, NOBODY.pw_gid
except KeyError:
    NOBODY_UID = NOBODY_GID = 65534
try:
    NOGROUP = grp.getgrnam("nogroup").gr_gid
except KeyError:
    NOGROUP = NOBODY_GID


def as_nobody(path, requests):
    """Connects to `path` as nobody:nogroup in a forked child, sends each of
    `requests` (method, params) in turn, and returns what it saw: a list of
    replies, then "EOF" if the relay closed (or reset) the connection, "open"
    if it did not, or an error string."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        out = []
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOGROUP)
            os.setuid(NOBODY_UID)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(30)
            try:
                s.connect(path)
            except PermissionError:
                out.append("EACCES")
                raise SystemExit
            buf = b""
            for i, (method, params) in enumerate(requests):
                try:
                    s.sendall(json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": method,
                                          "params": params}).encode() + b"\n")
                except OSError:
                    pass  # a refused client may find the socket closed already
                while b"\n" not in buf:
                    try:
                        chunk = s.recv(65536)
                    except ConnectionResetError:  # closed with our request unread
                        chunk = b""
                    if not chunk:
                        out.append("EOF")
                        raise SystemExit
                    buf += chunk
                line, buf = buf.split(b"\n", 1)
                out.append(json.loads(line))
            out.append("open")
        except SystemExit:
            pass
        except Exception as e:  # reported to the parent, which fails the case
            out.append(f"child error: {e!r}")
        finally:
            os.write(w, json.dumps(out).encode())
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data)


def open_to(relay, group_gid):
    """Lets another uid reach the socket: the directory traversable, the
    socket (kept at mode 0660) owned by `group_gid`."""
    os.chmod(relay.dir, 0o755)
    os.chown(relay.sock, -1, group_gid)


class RefusingRelay(Relay):
    """A relay that refuses the test's own uid: ready once it refuses it."""

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prism exited with {self.proc.returncode}")
            try:
                with self.unix() as c:
                    self.first_line = c.read_line()
                    return
            except (OSError, EOFError):
                time.sleep(0.05)
        raise RuntimeError("prism did not become ready")


@unittest.skipUnless(IS_ROOT, "needs root to run a client as nobody")
class OtherUid(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay()
        with cls.relay.unix() as c:
            assert "result" in c.call("tenant.create", {"tenant": "keep"})

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()

    def check_unaffected(self):
        with self.relay.unix() as c:
            self.assertIn("result", c.call("relay.info"))
            self.assertEqual(c.call("stats.get")["result"]["tenants"], 1)

    def test_socket_mode_is_0660(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.relay.sock).st_mode), 0o660)
        os.chmod(self.relay.dir, 0o755)
        # Without the socket's group, the file mode alone keeps nobody out.
        self.assertEqual(as_nobody(self.relay.sock, [("relay.info", {})]), ["EACCES"])
        self.check_unaffected()

    def test_uid_not_allowed(self):
        open_to(self.relay, NOGROUP)
        seen = as_nobody(self.relay.sock, [("relay.info", {}), ("tenant.delete",
                                                                {"tenant": "keep"})])
        self.assertEqual(len(seen), 2, seen)
        self.assertEqual(reason(seen[0]), "forbidden", seen)
        self.assertIn(seen[0]["error"]["code"], range(-32099, -31999))
        self.assertIsNone(seen[0]["id"])
        self.assertEqual(seen[1], "EOF")
        self.check_unaffected()


class AllowList(unittest.TestCase):
    other = NOBODY_UID if os.geteuid() != NOBODY_UID else NOBODY_UID - 1

    def test_allow_list_without_own_uid(self):
        with RefusingRelay(extra_config=f"[control]\nallow_uids = {self.other}\n") as relay:
            self.assertEqual(reason(relay.first_line), "forbidden", relay.first_line)
            self.assertIsNone(relay.first_line["id"])
            for _ in range(3):
                with relay.unix() as c:
                    try:
                        c.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"tenant.create",'
                                   b'"params":{"tenant":"sneaky"}}\n')
                    except ConnectionError:
                        pass  # refused and closed before the request went out
                    first = c.read_line()
                    self.assertEqual(reason(first), "forbidden", first)
                    self.assertIsNone(first["id"])
                    with self.assertRaises((EOFError, ConnectionError)):
                        c.read_line()
            self.assertIsNone(relay.proc.poll())
            if IS_ROOT:
                open_to(relay, NOGROUP)
                seen = as_nobody(relay.sock, [("relay.info", {}),
                                              ("tenant.create", {"tenant": "ok"}),
                                              ("stats.get", {})])
                self.assertIn("result", seen[0], seen)
                self.assertIn("result", seen[1], seen)
                # Nothing the refused connections sent was executed.
                self.assertEqual(seen[2]["result"]["tenants"], 1, seen)
                self.assertEqual(seen[3], "open")

    @unittest.skipUnless(IS_ROOT, "needs root to run a client as nobody")
    def test_uid_client_limited_to_tenants(self):
        config = f"[client ops]\nuid = {NOBODY_UID}\ntenants = t1;t2\n"
        with Relay(extra_config=config) as relay:
            with relay.unix() as c:  # our own uid: unrestricted
                self.assertIn("result", c.call("tenant.create", {"tenant": "t3"}))
            open_to(relay, NOGROUP)
            seen = as_nobody(relay.sock, [
                ("tenant.create", {"tenant": "t1"}),
                ("bubble.create", {"tenant": "t1", "bubble": "b"}),
                ("tenant.create", {"tenant": "t4"}),
                ("bubble.create", {"tenant": "t3", "bubble": "b"}),
                ("tenant.delete", {"tenant": "t3"}),
                ("stats.get", {}),
                ("relay.drain", {}),
                ("stats.get", {"tenant": "t1"}),
            ])
            self.assertEqual([reason(m) for m in seen[:7]],
                             [None, None, "forbidden", "forbidden", "forbidden", "forbidden",
                              "forbidden"], seen)
            self.assertEqual(seen[7]["result"]["bubbles"], 1, seen)
            self.assertEqual(seen[8], "open")
            with relay.unix() as c:
                stats = c.call("stats.get")["result"]
                self.assertEqual((stats["tenants"], stats["bubbles"]), (2, 1))
                self.assertEqual(c.call("stats.get", {"tenant": "t3"})["result"]["bubbles"], 0)
                self.assertIs(c.call("relay.info")["result"]["draining"], False)


@unittest.skipUnless(IS_ROOT, "needs root to run a client as nobody")
class LimitedClientQuotas(unittest.TestCase):
    """Issue 9, finding 6: a limited client may delete and create its own
    tenants, so the limits it gives tenant.create are capped by what the
    operator configured for it (the group's max_* keys, else [limits]): asking
    more, or 0 (unlimited) under a numeric cap, is `forbidden`; a limit not
    given takes the cap; asking less is allowed."""

    def limits(self, tenant):
        with self.relay.unix() as c:
            return c.call("stats.get", {"tenant": tenant})["result"]["limits"]

    def test_recreate_with_unlimited_quotas_is_forbidden(self):
        config = (f"[limits]\nmax_bubbles = 5\nmax_peers = 50\n"
                  f"[client ops]\nuid = {NOBODY_UID}\ntenants = t1;t2\n")
        with Relay(extra_config=config) as self.relay:
            open_to(self.relay, NOGROUP)
            seen = as_nobody(self.relay.sock, [
                ("tenant.create", {"tenant": "t1"}),
                ("tenant.delete", {"tenant": "t1"}),
                ("tenant.create", {"tenant": "t1", "limits": {"max_peers": 0}}),
                ("tenant.create", {"tenant": "t1", "limits": {"max_bubbles": 0,
                                                              "max_peers": 0}}),
                ("tenant.create", {"tenant": "t1", "limits": {"max_bubbles": 6}}),
                ("tenant.create", {"tenant": "t1", "limits": {"max_peers": 51}}),
                ("tenant.create", {"tenant": "t1", "limits": {"max_peers": 10}}),
                ("tenant.create", {"tenant": "t2", "limits": {"max_kbps": 0,
                                                              "max_bubbles": 5}}),
            ])
            self.assertEqual([reason(m) for m in seen[:8]],
                             [None, None, "forbidden", "forbidden", "forbidden", "forbidden",
                              None, None], seen)
            self.assertIn("max_peers", seen[2]["error"]["message"], seen)
            self.assertEqual(seen[2]["error"]["code"], -32004, seen)
            self.assertEqual(seen[8], "open")
            self.assertEqual(self.limits("t1"),
                             {"max_bubbles": 5, "max_peers": 10, "max_kbps": 0})
            self.assertEqual(self.limits("t2"),
                             {"max_bubbles": 5, "max_peers": 50, "max_kbps": 0})
            with self.relay.unix() as c:  # our own uid: unrestricted, uncapped
                self.assertIn("result", c.call("tenant.create", {
                    "tenant": "t3", "limits": {"max_bubbles": 0, "max_peers": 0}}))
            self.assertEqual(self.limits("t3"),
                             {"max_bubbles": 0, "max_peers": 0, "max_kbps": 0})

    def test_cap_from_the_client_group(self):
        config = (f"[client ops]\nuid = {NOBODY_UID}\ntenants = t1\n"
                  f"max_peers = 20000\nmax_kbps = 800\n")
        with Relay(extra_config=config) as self.relay:
            open_to(self.relay, NOGROUP)
            seen = as_nobody(self.relay.sock, [
                ("tenant.create", {"tenant": "t1", "limits": {"max_kbps": 0}}),
                ("tenant.create", {"tenant": "t1", "limits": {"max_peers": 20001}}),
                ("tenant.create", {"tenant": "t1", "limits": {"max_bubbles": 1001}}),
                ("tenant.create", {"tenant": "t1"}),
            ])
            self.assertEqual([reason(m) for m in seen[:4]],
                             ["forbidden", "forbidden", "forbidden", None], seen)
            # Not given: the group's cap, else the [limits] default (1000 bubbles).
            self.assertEqual(self.limits("t1"),
                             {"max_bubbles": 1000, "max_peers": 20000, "max_kbps": 800})

    def test_capped_tenant_keeps_the_transport_quota(self):
        """A capped client's tenant still gets the derived default
        max_transports (here 2: two media ports, one address), which
        tenant.create does not take: not 0 (unlimited)."""
        offer_path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), "tests", "data", "sdp", "chromium-audio-offer.sdp")
        with open(offer_path, newline="") as f:
            offer = f.read()
        config = f"[client ops]\nuid = {NOBODY_UID}\ntenants = t1\n"
        # Below the default media range (40000-49999) and the kernel's
        # ephemeral ports, and used by no other test: tests run side by side
        # and a relay of theirs could hold a port of a range inside those.
        with Relay(extra_config=config, args=["--media-ip", "127.0.0.1",
                                              "--media-ports", "31000-31001"]) as self.relay:
            open_to(self.relay, NOGROUP)
            seen = as_nobody(self.relay.sock, [("tenant.create", {"tenant": "t1"})])
            self.assertIn("result", seen[0], seen)
            with self.relay.unix() as c:
                self.assertIn("result", c.call("bubble.create", {"tenant": "t1", "bubble": "b"}))
                replies = []
                for peer in ("p1", "p2", "p3"):
                    self.assertIn("result", c.call("peer.join", {"tenant": "t1", "bubble": "b",
                                                                 "peer": peer}))
                    replies.append(c.call("peer.publish", {"tenant": "t1", "bubble": "b",
                                                           "peer": peer, "offer": offer}))
                self.assertEqual([reason(r) for r in replies], [None, None, "quota_exceeded"],
                                 replies)


if __name__ == "__main__":
    unittest.main()
