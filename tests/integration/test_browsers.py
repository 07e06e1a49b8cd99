"""Three headless Chromium pages in one bubble through the demo (issue 3):
each decodes video frames and receives audio from both others (getStats on
its subscribe connection: framesDecoded and audio packetsReceived rising, per
remote publisher); then one leaves and the other two see its tracks dropped
from their downstream offers (its tile goes).

Skips itself while the relay answers peer.publish with `unsupported` (before
the media plane lands), so it runs for real as soon as it does.

Chromium costs ~0.5 GiB and ~0.4 core per page: three pages, no more.
Runs itself in a private network namespace (webdriver.private_netns()).
Environment: PRISM, PRISMCTL.
"""
import sys
import time
import unittest

import webdriver

webdriver.private_netns()

import test_demo_page as demo_it  # noqa: E402  (its DemoServer and helpers)

BUBBLE = "it-three"
NAMES = ["Ann", "Bob", "Cy"]
MEDIA_TIMEOUT_S = 60
LEAVE_TIMEOUT_S = 30


def log(*args):
    print(*args, file=sys.stderr, flush=True)


@unittest.skipIf(webdriver.available(), webdriver.available())
class ThreeBrowsers(unittest.TestCase):
    def test_three_pages(self):
        relay, demo, ctl = demo_it.start_demo(self)
        pages = [demo_it.open_page(self, demo) for _ in NAMES]
        peers = []
        for page, name in zip(pages, NAMES):
            result = page.call("window.prismDemo.join(arguments[0], arguments[1])", BUBBLE, name)
            log(f"{name} joined: {result}")
            if not result["publish"]["ok"] and result["publish"]["reason"] == "unsupported":
                self.skipTest("the relay answers peer.publish with `unsupported`: "
                              "no media plane yet (issue 3)")
            self.assertTrue(result["publish"]["ok"], result)
            self.assertTrue(result["subscribe"]["ok"], result)
            peers.append(result["peer"])
        self.assertEqual(sorted(demo_it.peers_in(ctl, BUBBLE)), sorted(peers))

        # Everyone gets video frames and audio from both others, and keeps
        # getting them.
        first = self.wait_media(pages, peers, {p: None for p in peers})
        time.sleep(2)
        self.wait_media(pages, peers, first)

        # The last one leaves: the others' offers drop its tracks.
        gone = peers[2]
        pages[2].call("window.prismDemo.leave()")
        self.assertNotIn(gone, demo_it.peers_in(ctl, BUBBLE))
        deadline = time.monotonic() + LEAVE_TIMEOUT_S
        for page, me in zip(pages[:2], peers[:2]):
            while True:
                s = page.call("window.prismDemo.stats()")
                if gone not in s["shown"]:
                    break
                self.assertLess(time.monotonic(), deadline,
                                f"{me} still shows {gone} after it left: {s}")
                time.sleep(0.5)
            others = [p for p in peers[:2] if p != me]
            self.assertEqual(s["shown"], others, s)
            self.assertNotIn(gone, [r["peer"] for r in s["roster"]], s)
        # ... and media between the two who stayed goes on.
        again = self.wait_media(pages[:2], peers[:2], {p: None for p in peers[:2]})
        time.sleep(2)
        self.wait_media(pages[:2], peers[:2], again)

    def wait_media(self, pages, peers, before):
        """Polls each page's stats() until, for every other peer, that peer
        is shown and framesDecoded and audioPacketsReceived are above
        before[page's peer][publisher] (or above 0). Returns the last
        counters: {peer: {publisher: {framesDecoded, audioPacketsReceived}}}."""
        deadline = time.monotonic() + MEDIA_TIMEOUT_S
        seen = {}
        for page, me in zip(pages, peers):
            others = [p for p in peers if p != me]
            base = before.get(me) or {}
            while True:
                s = page.call("window.prismDemo.stats()")
                got = s["publishers"]

                def rising(pub, key):
                    now = got.get(pub, {}).get(key, 0)
                    return now > (base.get(pub) or {}).get(key, 0)
                if all(p in s["shown"] and rising(p, "framesDecoded")
                       and rising(p, "audioPacketsReceived") for p in others):
                    seen[me] = {p: got[p] for p in others}
                    log(f"{me}: {seen[me]}")
                    break
                if time.monotonic() > deadline:
                    self.fail(f"{me} does not receive media from {others} "
                              f"(before: {base}): {s}")
                time.sleep(1)
        return seen


if __name__ == "__main__":
    webdriver.unittest_main()
