"""Clients that reach the relay only through a TURN server (issue 10 item 4).

Debian's coturn runs on loopback, configured by
deploy/coturn/turnserver.conf.sample with its host-specific keys replaced
(addresses, certificate, secret, log): clients talk to it on 127.0.0.1, it
relays from 127.0.0.2 (the whole of 127/8 is on `lo`), so everything the
relay gets from a client comes from coturn's relayed address, never from the
client. Credentials are the TURN REST API's time-limited ones (coturn's
`use-auth-secret`), computed here as a collaboration backend would:
username = "<expiry>:<user>", password = base64(HMAC-SHA1(secret, username)).

Three headless Chromium pages join one bubble through the demo, each with
`iceTransportPolicy: "relay"` and one TURN URL: over UDP
(`turn:...?transport=udp`), over TCP (`?transport=tcp`) and over TLS on 443
(`turns:...:443?transport=tcp`, the page accepting the test's self-signed
certificate); the last two are clients whose UDP is blocked, and coturn still
speaks UDP to the relay. The test wants media to flow between all of them
(each page decodes the others' video and receives their audio), and, on
every page and both its connections (publish, subscribe), the selected
candidate pair's local candidate to be a `relay` candidate on coturn's
relayed address with the page's protocol towards coturn, its remote
candidate the relay; coturn's log shows each user's permission for the
relay's address. The demo page takes its RTCPeerConnection configuration from
a constant, so the test wraps the page's RTCPeerConnection to add the
iceServers and the policy, as a backend's page would get them.

Without a browser, a TURN client of the test's own (a few STUN/TURN messages)
checks what the sample refuses: an expired username and a forged password
(401), and permissions towards the private, loopback and reserved ranges it
denies (403), while the relay's address and a public one are allowed.

Runs itself in a private network namespace (webdriver.private_netns()).
Environment: PRISM, PRISMCTL.
"""
import base64
import hashlib
import hmac
import os
import secrets
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import webdriver

webdriver.private_netns()

import chromium_call as cc  # noqa: E402
import harness  # noqa: E402
from chromium_call import log  # noqa: E402

TURNSERVER = "/usr/bin/turnserver"
TURN_LISTEN = "127.0.0.1"
TURN_RELAY = "127.0.0.2"
TLS_PORT = 443  # as deploy/coturn/turnserver.conf.sample
BUBBLE = "it-turn"
MEDIA_TIMEOUT_S = 60
START_TIMEOUT_S = 20


def rest_credentials(secret, user, ttl_s=600):
    """The TURN REST API's time-limited credentials for `user`."""
    username = f"{int(time.time()) + ttl_s}:{user}"
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(mac).decode()


SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy",
                      "coturn", "turnserver.conf.sample")
# Keys of the sample that name the production host; the test sets its own.
OVERRIDDEN = {"listening-ip", "listening-port", "relay-ip", "external-ip", "cert", "pkey",
              "static-auth-secret", "realm", "server-name", "syslog"}


def self_signed(d, name, ip):
    """An ECDSA P-256 certificate for `ip` (subjectAltName), self-signed:
    returns (cert, key) paths."""
    cert, key = os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={ip}", "-addext", f"subjectAltName=IP:{ip}"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class Coturn:
    """turnserver configured by deploy/coturn/turnserver.conf.sample with its
    host-specific keys replaced: listening on TURN_LISTEN (UDP and TCP on a
    free port, TLS on TLS_PORT with a self-signed certificate for that
    address), relaying from TURN_RELAY, the relay on loopback allowed as a
    peer; log, pid file and database in a temporary directory. close() stops
    it."""

    def __init__(self):
        if not os.access(TURNSERVER, os.X_OK):
            raise RuntimeError(f"{TURNSERVER} is missing: deploy/setup.sh --tests installs coturn")
        self.dir = tempfile.mkdtemp(prefix="prism-coturn-")
        self.port = webdriver.free_port()
        self.secret = secrets.token_hex(16)
        self.log_path = os.path.join(self.dir, "turn.log")
        cert = self_signed(self.dir, "turn", TURN_LISTEN)
        with open(SAMPLE) as f:
            conf = [line.strip() for line in f
                    if line.strip() and not line.startswith("#")
                    and line.split("=")[0].strip() not in OVERRIDDEN]
        conf += [
            f"listening-ip={TURN_LISTEN}", f"listening-port={self.port}",
            f"relay-ip={TURN_RELAY}", f"cert={cert[0]}", f"pkey={cert[1]}",
            f"static-auth-secret={self.secret}", "realm=prism.test",
            # The relay listens on loopback here: coturn refuses loopback
            # peers unless told, and the sample denies 127/8.
            "allow-loopback-peers", "allowed-peer-ip=127.0.0.1",
            f"userdb={self.dir}/turndb", f"pidfile={self.dir}/turnserver.pid",
            f"log-file={self.log_path}", "no-stdout-log", "verbose",
        ]
        self.config = os.path.join(self.dir, "turnserver.conf")
        with open(self.config, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.proc = subprocess.Popen([TURNSERVER, "-c", self.config],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                socket.create_connection((TURN_LISTEN, self.port), timeout=1).close()
                socket.create_connection((TURN_LISTEN, TLS_PORT), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    out = self.output()[-4000:]
                    self.close()
                    raise RuntimeError("turnserver did not start: " + out)
                time.sleep(0.1)

    def ice_servers(self, user, transport):
        """One TURN server entry for `user`, reached over `transport` (udp,
        tcp, or tls: turns: on TLS_PORT)."""
        username, credential = rest_credentials(self.secret, user)
        url = (f"turns:{TURN_LISTEN}:{TLS_PORT}?transport=tcp" if transport == "tls"
               else f"turn:{TURN_LISTEN}:{self.port}?transport={transport}")
        return [{"urls": [url], "username": username, "credential": credential}]

    def output(self):
        """Its whole log so far."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        harness.terminate(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


# Wraps the page's RTCPeerConnection: every connection the demo makes gets
# these iceServers and relay-only gathering.
USE_TURN = """
const extra = {iceServers: arguments[0], iceTransportPolicy: 'relay'};
const Native = window.RTCPeerConnection;
window.RTCPeerConnection = function (config) { return new Native({...config, ...extra}); };
window.RTCPeerConnection.prototype = Native.prototype;
"""


def open_page(test, demo, transport):
    """A demo page (chromium_call.open_page), Chromium accepting the test's
    self-signed TURN certificate when the page uses TURN over TLS."""
    return cc.open_page(test, demo, ["--ignore-certificate-errors"] if transport == "tls" else [])


# A few STUN/TURN messages (RFC 8489, RFC 8656), enough to ask coturn for an
# allocation and permissions the way a client does, without a browser.
COOKIE = 0x2112A442
ALLOCATE, CREATE_PERMISSION = 0x003, 0x008
SUCCESS, ERROR = 0x100, 0x110
A_USERNAME, A_MI, A_ERROR, A_PEER, A_REALM, A_NONCE, A_TRANSPORT = (
    0x0006, 0x0008, 0x0009, 0x0012, 0x0014, 0x0015, 0x0019)


def stun_attr(kind, value):
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def stun_request(method, attrs, key=None):
    """A request of `method` with `attrs` ([(kind, value)]), with
    MESSAGE-INTEGRITY under `key` when given: returns (txid, bytes)."""
    txid = secrets.token_bytes(12)
    body = b"".join(stun_attr(k, v) for k, v in attrs)
    if key is not None:
        head = struct.pack("!HHI", method, len(body) + 24, COOKIE) + txid
        body += stun_attr(A_MI, hmac.new(key, head + body, hashlib.sha1).digest())
    return txid, struct.pack("!HHI", method, len(body), COOKIE) + txid + body


def stun_parse(data):
    """(class bits of the type, txid, {kind: value}) of a STUN message."""
    kind, length = struct.unpack("!HH", data[:4])
    attrs, at = {}, 20
    while at + 4 <= 20 + length:
        k, n = struct.unpack("!HH", data[at:at + 4])
        attrs.setdefault(k, data[at + 4:at + 4 + n])
        at += 4 + n + (-n % 4)
    return kind & 0x110, data[8:20], attrs


def xor_peer(ip, port):
    addr = struct.unpack("!I", socket.inet_aton(ip))[0] ^ COOKIE
    return struct.pack("!BBHI", 0, 1, port ^ (COOKIE >> 16), addr)


class TurnClient:
    """A TURN client over UDP with long-term credentials."""

    def __init__(self, port, username, password):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(5)
        self.server = (TURN_LISTEN, port)
        self.username, self.password = username, password
        self.realm = self.nonce = None

    def request(self, method, attrs):
        """Sends `method` (authenticated once a 401 gave realm and nonce) and
        returns ("success", attrs) or ("error", code)."""
        for _ in range(2):
            auth, key = [], None
            if self.nonce is not None:
                auth = [(A_USERNAME, self.username.encode()), (A_REALM, self.realm),
                        (A_NONCE, self.nonce)]
                key = hashlib.md5(self.username.encode() + b":" + self.realm + b":"
                                  + self.password.encode()).digest()
            txid, msg = stun_request(method, attrs + auth, key)
            # UDP: retransmitted as a STUN client does (RFC 8489 6.2.1); a
            # busy machine can lose or delay one datagram.
            for attempt in range(3):
                self.sock.sendto(msg, self.server)
                try:
                    while True:
                        cls, rtxid, got = stun_parse(self.sock.recv(2048))
                        if rtxid == txid:
                            break
                    break
                except TimeoutError:
                    if attempt == 2:
                        raise
            if cls == SUCCESS:
                return "success", got
            code = got[A_ERROR][2] * 100 + got[A_ERROR][3]
            if code == 401 and self.nonce is None:
                self.realm, self.nonce = got[A_REALM], got[A_NONCE]
                continue
            return "error", code
        return "error", code

    def allocate(self):
        """An allocation of a UDP relayed address (REQUESTED-TRANSPORT 17)."""
        return self.request(ALLOCATE, [(A_TRANSPORT, bytes([17, 0, 0, 0]))])

    def permit(self, ip, port=40000):
        return self.request(CREATE_PERMISSION, [(A_PEER, xor_peer(ip, port))])

    def close(self):
        self.sock.close()


class Sample(unittest.TestCase):
    """What the sample configuration refuses, with a TURN client of our own."""

    def test_credentials_and_peers(self):
        turn = Coturn()
        self.addCleanup(turn.close)

        def client(username, password):
            c = TurnClient(turn.port, username, password)
            self.addCleanup(c.close)
            return c
        # An expired username, and a password not made with the secret.
        c = client(*rest_credentials(turn.secret, "it-old", ttl_s=-60))
        self.assertEqual(c.allocate(), ("error", 401))
        c = client(*rest_credentials("not the secret", "it-forged"))
        self.assertEqual(c.allocate(), ("error", 401))

        c = client(*rest_credentials(turn.secret, "it-probe"))
        self.assertEqual(c.allocate()[0], "success")
        # The relay (allowed) is a peer, and so is an address outside the
        # ranges the sample denies (a documentation one stands for a public
        # address); private, loopback and reserved ranges are not.
        self.assertEqual(c.permit("127.0.0.1")[0], "success")
        self.assertEqual(c.permit("203.0.113.7")[0], "success")
        for ip in ("127.0.0.3", "10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.169.254",
                   "100.64.0.1", "0.0.0.0", "224.0.0.1"):
            self.assertEqual(c.permit(ip), ("error", 403), ip)


@unittest.skipIf(webdriver.available(), webdriver.available())
class TurnOnly(unittest.TestCase):
    def test_relay_only_clients_over_udp_tcp_and_tls_turn(self):
        turn = Coturn()
        self.addCleanup(turn.close)
        self.addCleanup(lambda: self._outcome_log(turn))
        relay, demo, ctl = cc.start_demo(self)

        cases = [("Udp", "udp"), ("Tcp", "tcp"), ("Tls", "tls")]
        pages, peers = [], []
        for name, transport in cases:
            page = open_page(self, demo, transport)
            page.execute(USE_TURN, turn.ice_servers(f"it-{transport}", transport))
            r = cc.join(self, page, BUBBLE, name, "publish", "subscribe")
            log(f"{name} joined: {r}")
            pages.append(page)
            peers.append(r["peer"])

        # Everyone decodes video and receives audio from both others.
        cc.media_from(self, pages, peers, {p: 0 for p in peers}, MEDIA_TIMEOUT_S, "through TURN")

        for page, (name, transport) in zip(pages, cases):
            sel = page.call(cc.SELECTED_PAIRS)
            log(f"{name}: selected pairs {sel}")
            for conn in ("publish", "subscribe"):
                self.assertIn(conn, sel, f"{name} has no selected pair on {conn}: {sel}")
                local, remote = sel[conn]["local"], sel[conn]["remote"]
                self.assertEqual(local["type"], "relay", sel)
                self.assertEqual(local["address"], TURN_RELAY, sel)
                self.assertEqual(local["relayProtocol"], transport, sel)
                self.assertEqual(remote["address"], "127.0.0.1", sel)
            # coturn's side: the page's user was allowed to send to the relay.
            self.assertRegex(turn.output(), rf"user <\d+:it-{transport}>: incoming packet "
                             "CREATE_PERMISSION processed, success")

    def _outcome_log(self, turn):
        log("coturn log (tail):\n" + turn.output()[-2000:])


if __name__ == "__main__":
    webdriver.unittest_main()
