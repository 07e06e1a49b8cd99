"""Privacy and audit (issue 2, item 5; REQUIREMENTS.md 1.5 and 2.2): after a
session with known raw ids, SDP, candidates and addresses, neither the log
(at debug level) nor the audit trail contains any of them; the log is one
JSON object per line; the audit trail has one JSON line per control request
with ts, client (uid:… or cert:…), method, result and pseudonymised tenant,
bubble and peer.
"""
import datetime
import json
import os
import re
import unittest

from harness import Relay, fingerprint

TENANT = "tenant-SECRET-123"
BUBBLE = "bubble-SECRET-456"
PEER = "peer-SECRET-789"
PEER2 = "peer-SECRET-790"
ADDR = "198.51.100.23"
ADDR2 = "203.0.113.9"
OFFER = "\r\n".join([
    "v=0", f"o=- 4611731400430051336 2 IN IP4 {ADDR}", "s=SDPSECRETsession", "t=0 0",
    "a=group:BUNDLE 0", "a=msid-semantic: WMS SDPSECRETstream",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111", f"c=IN IP4 {ADDR}",
    f"a=candidate:1 1 udp 2122260223 {ADDR} 54321 typ host",
    "a=ice-ufrag:SDPSECRETufrag", "a=ice-pwd:SDPSECRETpasswordpasswordpass",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32), "a=setup:actpass", "a=mid:0",
    "a=sendrecv", "a=msid:SDPSECRETstream SDPSECRETtrack", "a=rtcp-mux",
    "a=rtpmap:111 opus/48000/2", "a=ssrc:1001 cname:SDPSECRETcname", ""])
CANDIDATE = f"candidate:2 1 udp 2122260223 {ADDR2} 50000 typ host"
# Nothing of these may reach a log or the audit trail.
SECRETS = ["SECRET", ADDR, ADDR2, "v=0", "opus/48000", "54321", "50000", "a=candidate"]


class Privacy(unittest.TestCase):
    def setUp(self):
        self.relay = Relay(tls=True)
        self.addCleanup(self.relay.close)
        self.expected = []  # (client, method, result or None for "any", fields)

    def call(self, client, label, method, params, result, fields=()):
        reply = client.call(method, params)
        if result == "ok":
            self.assertIn("result", reply, reply)
        # An unknown method is the client's free text: audited as "-".
        self.expected.append((label, "-" if result == "method_not_found" else method, result,
                              set(fields)))
        return reply

    def test_no_raw_ids_sdp_or_addresses_in_log_or_audit(self):
        unix_label = f"uid:{os.geteuid()}"
        tls_label = "cert:" + fingerprint(self.relay.client_cert[0])
        t, b, p = {"tenant": TENANT}, {"tenant": TENANT, "bubble": BUBBLE}, \
            {"tenant": TENANT, "bubble": BUBBLE, "peer": PEER}
        with self.relay.unix() as u, self.relay.tls() as s:
            sub_reply = None
            self.call(u, unix_label, "stats.get", {}, "ok")  # marks the session's start
            self.call(u, unix_label, "tenant.create", {**t, "limits": {"max_peers": 5}}, "ok",
                      ["tenant"])
            self.call(s, tls_label, "tenant.create", t, "exists", ["tenant"])
            self.call(s, tls_label, "bubble.create", b, "ok", ["tenant", "bubble"])
            self.call(u, unix_label, "peer.join", p, "ok", ["tenant", "bubble", "peer"])
            self.call(s, tls_label, "peer.join", {**b, "peer": PEER2, "publish": False}, "ok",
                      ["tenant", "bubble", "peer"])
            self.call(u, unix_label, "peer.publish", {**p, "offer": OFFER}, None,
                      ["tenant", "bubble", "peer"])
            self.call(s, tls_label, "peer.subscribe", {**b, "peer": PEER2}, None,
                      ["tenant", "bubble", "peer"])
            self.call(s, tls_label, "peer.answer", {**b, "peer": PEER2, "answer": OFFER,
                                                   "revision": 1}, None,
                      ["tenant", "bubble", "peer"])
            self.call(u, unix_label, "peer.candidate", {**p, "transport": "publish",
                                                       "candidate": CANDIDATE}, None,
                      ["tenant", "bubble", "peer"])
            self.call(u, unix_label, "bubble.info", b, "ok", ["tenant", "bubble"])
            self.call(u, unix_label, "stats.get", b, "ok", ["tenant", "bubble"])
            self.call(u, unix_label, "bubble.info", {**b, "bubble": "ghost-SECRET-000"},
                      "not_found", ["tenant", "bubble"])
            self.call(u, unix_label, "peer.join", {**b, "peer": "bad SECRET id"},
                      "invalid_params")
            self.call(u, unix_label, "no.such.SECRET.method", p, "method_not_found")
            sub_reply = self.call(s, tls_label, "events.subscribe", {"tenants": [TENANT]}, "ok")
            self.assertIn("result", sub_reply)
            # A malformed line and an overlong one that carry raw ids.
            u.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"peer.join","params":{"tenant":"'
                       + TENANT.encode() + b'"\n')
            self.assertEqual(u.read_line()["error"]["code"], -32700)
            self.expected.append((unix_label, "-", "parse_error", set()))
            u.send_raw(b'{"tenant":"' + TENANT.encode() * 80000 + b'"}\n')
            self.assertEqual(u.read_line()["error"]["code"], -32600)
            self.expected.append((unix_label, "-", "invalid_request", set()))
            # A notification is a request too, audited though not answered.
            u.send_raw(json.dumps({"jsonrpc": "2.0", "method": "peer.leave",
                                   "params": {**b, "peer": PEER2}}).encode() + b"\n")
            self.expected.append((unix_label, "peer.leave", "ok", {"tenant", "bubble", "peer"}))
            self.call(u, unix_label, "peer.leave", p, "ok", ["tenant", "bubble", "peer"])
            self.call(u, unix_label, "relay.drain", None, "ok")
            # The last bubble goes: the subscriber gets relay.drained, then the reply.
            s.request("bubble.delete", b)
            self.expected.append((tls_label, "bubble.delete", "ok", {"tenant", "bubble"}))
            self.assertEqual(s.read_line()["method"], "relay.drained")
            self.assertIn("result", s.read_line())
            self.call(s, tls_label, "tenant.delete", t, "ok", ["tenant"])
        self.assertEqual(self.relay.stop(), 0)  # flushes everything

        with open(self.relay.log) as f:
            log_text = f.read()
        with open(self.relay.audit) as f:
            audit_text = f.read()
        for secret in SECRETS:
            self.assertNotIn(secret, log_text, f"{secret!r} in the log")
            self.assertNotIn(secret, audit_text, f"{secret!r} in the audit trail")
        for name in ("SECRET-123", "SECRET-456", "SECRET-789"):
            self.assertNotIn(name.lower(), log_text.lower())

        log = [json.loads(line) for line in log_text.splitlines()]
        self.assertTrue(log)
        for entry in log:
            self.assertIsInstance(entry, dict)
            self.assertIn("ts", entry)
            self.assertIn("level", entry)
            self.assertIn("event", entry)

        audit = [json.loads(line) for line in audit_text.splitlines()]
        start = [i for i, a in enumerate(audit) if a["method"] == "stats.get"][0]
        self.assertTrue(all(a["method"] == "relay.info" for a in audit[:start]),
                        "only the harness's readiness probes come first")
        session = audit[start:]
        self.assertEqual(len(session), len(self.expected),
                         "\n".join(json.dumps(a) for a in session))
        pseudonyms = {}
        for got, (label, method, result, fields) in zip(session, self.expected):
            with self.subTest(method=method, result=result):
                ts = datetime.datetime.fromisoformat(got["ts"].replace("Z", "+00:00"))
                self.assertLess(abs((datetime.datetime.now(datetime.timezone.utc)
                                     - ts).total_seconds()), 3600)
                self.assertEqual(got["client"], label)
                self.assertEqual(got["method"], method)
                self.assertIsInstance(got["result"], str)
                self.assertTrue(got["result"])
                if result is not None:
                    self.assertEqual(got["result"], result)
                for kind in fields:
                    self.assertIn(kind, got, got)
                    self.assertRegex(got[kind], r"^[A-Za-z0-9_\-+/=]{8,}$")
                self.assertLessEqual(set(got) - {"ts", "client", "method", "result"},
                                     {"tenant", "bubble", "peer"})
                for kind in ("tenant", "bubble", "peer"):
                    if kind in got:
                        pseudonyms.setdefault(kind, set()).add(got[kind])
        # One raw id, one pseudonym: the same tenant and bubble throughout;
        # the two peers and the ghost bubble stay apart.
        self.assertEqual(len(pseudonyms["tenant"]), 1)
        self.assertEqual(len(pseudonyms["bubble"]), 2)
        self.assertEqual(len(pseudonyms["peer"]), 2)
        self.assertTrue(re.fullmatch(r"cert:[0-9a-f]{64}", tls_label))


if __name__ == "__main__":
    unittest.main()
