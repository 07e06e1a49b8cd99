"""The demo (deploy/demo) end to end with one headless Chromium page: the page
joins through the demo backend, which creates tenant/bubble and joins a peer
at the relay; the page's publish reaches the relay; leaving removes the peer.

Until the media plane lands the relay answers peer.publish with
`unsupported`: the test accepts that or a real answer, checks that the page
surfaces an error cleanly, and logs which case it saw. Also checks the
backend's API without a browser (relay errors passed through as HTTP errors
with the relay's error object, tokens enforced) and that display names never
reach the relay (its log and audit log).

Runs itself in a private network namespace (webdriver.private_netns()).
Environment: PRISM, PRISMCTL (as the other integration tests).
"""
import sys
import unittest

import webdriver

webdriver.private_netns()

from chromium_call import TENANT, open_page, start_demo  # noqa: E402
from harness import reason  # noqa: E402

# The demo's helpers live in chromium_call.py; test_browsers.py and
# test_softphone_browser.py still reach them through this module
# (demo_it.start_demo, demo_it.open_page, ...).


def peers_in(ctl, bubble):
    """Peer ids the relay has in `bubble` (empty if the bubble is gone)."""
    reply = ctl.call("bubble.info", {"tenant": TENANT, "bubble": bubble})
    if reason(reply) == "not_found":
        return []
    return [p["peer"] for p in reply["result"]["peers"]]


class DemoApi(unittest.TestCase):
    """The backend alone, over HTTP."""

    def test_api(self):
        relay, demo, ctl = start_demo(self)
        status, j = demo.post("join", {"bubble": "api", "name": "Quentin Quux"})
        self.assertEqual(status, 200, j)
        self.assertEqual(peers_in(ctl, "api"), [j["peer"]])
        ids = {"bubble": "api", "peer": j["peer"], "token": j["token"]}
        # A relay error reaches the page as an HTTP error carrying the
        # relay's own error object.
        status, e = demo.post("join", {"bubble": "not a valid id", "name": "x"})
        self.assertEqual((status, e["error"]["code"]), (400, -32602), e)
        # Each peer is the joining page's: a wrong token is refused.
        status, e = demo.post("leave", {**ids, "token": "0" * 32})
        self.assertEqual((status, e["error"]["data"]["reason"]), (403, "forbidden"), e)
        status, e = demo.post("leave", {**ids, "peer": "p-nobody"})
        self.assertEqual(status, 404, e)
        # publish reaches the relay: answered, or (before the media plane)
        # `unsupported` -> HTTP 501 with the relay's error object; a bogus
        # offer may also get `bad_sdp` -> 400 once SDP is parsed.
        status, r = demo.post("publish", {**ids, "offer": "v=0\r\n"})
        if status != 200:
            self.assertIn((status, r["error"]["data"]["reason"]),
                          [(501, "unsupported"), (400, "bad_sdp")], r)
        status, r = demo.post("leave", ids)
        self.assertEqual((status, r), (200, {}))
        self.assertEqual(peers_in(ctl, "api"), [])
        # Display names stay in the backend.
        for path in (relay.log, relay.audit):
            with open(path, errors="replace") as f:
                self.assertNotIn("Quentin Quux", f.read(), path)


@unittest.skipIf(webdriver.available(), webdriver.available())
class DemoPage(unittest.TestCase):
    """The page in headless Chromium."""

    def test_join_publish_leave(self):
        relay, demo, ctl = start_demo(self)
        page = open_page(self, demo)
        self.assertEqual(page.execute("return typeof window.prismDemo"), "object")

        result = page.call("window.prismDemo.join(arguments[0], arguments[1])",
                           "it-page", "Zelda Privacy")
        # The backend got the page's join: the relay has the peer.
        self.assertEqual(peers_in(ctl, "it-page"), [result["peer"]], result)
        stats = page.call("window.prismDemo.stats()")
        self.assertEqual(stats["peer"], result["peer"])
        self.assertEqual(stats["roster"], [{"peer": result["peer"], "name": "Zelda Privacy"}])

        pub = result["publish"]
        status_line = page.execute("const s = document.getElementById('status');"
                                   "return [s.textContent, s.className];")
        if pub["ok"]:
            print("media plane present: peer.publish answered; the page set the answer",
                  file=sys.stderr)
            self.assertTrue(result["subscribe"]["ok"], result)
        else:
            # Before the media plane: the relay's `unsupported`, passed
            # through the backend as HTTP 501, shown in the status line.
            print("media plane absent: peer.publish answered unsupported "
                  f"({pub['message']})", file=sys.stderr)
            self.assertEqual((pub["status"], pub["reason"]), (501, "unsupported"), result)
            self.assertEqual(status_line[1], "error", status_line)
            self.assertIn("unsupported", status_line[0])
            self.assertIn("sending failed", status_line[0])
        # The page says it published through the relay: the request reached it.
        self.assertIn(f'"POST /api/publish HTTP/1.1" {pub.get("status", 200)}', demo.output())

        page.call("window.prismDemo.leave()")
        self.assertEqual(peers_in(ctl, "it-page"), [])
        self.assertEqual(page.execute("return document.getElementById('status').textContent"),
                         "Not in a bubble.")
        for path in (relay.log, relay.audit):
            with open(path, errors="replace") as f:
                self.assertNotIn("Zelda Privacy", f.read(), path)


if __name__ == "__main__":
    webdriver.unittest_main()
