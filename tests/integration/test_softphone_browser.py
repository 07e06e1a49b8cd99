"""A browser and a softphone in one bubble (issue 3): one headless Chromium
page joins through the demo (deploy/demo, driven by webdriver.py as in
test_browsers.py) and one aiortc softphone (softphone.py) joins the same
tenant and bubble straight over the control socket. The page must decode
the softphone's audio (its audioPacketsReceived for the softphone's peer id
rising) and the softphone must receive the page's audio and video (RTP
packets and decoded frames rising on the lines whose msid names the page's
peer), for a few seconds.

Skips without chromedriver/Chromium or without python3-aiortc.
Runs itself in a private network namespace (webdriver.private_netns()).
Environment: PRISM, PRISMCTL.
"""
import asyncio
import sys
import time
import unittest

import webdriver

webdriver.private_netns()

import test_demo_page as demo_it  # noqa: E402  (its DemoServer and helpers)

try:
    import softphone as sp  # noqa: E402
except ImportError as e:  # Debian's python3-aiortc missing: skipped (meson: 77)
    print(f"skip: aiortc unavailable ({e})", file=sys.stderr)
    sys.exit(77)

BUBBLE = "it-softphone"
MEDIA_TIMEOUT_S = 90


def log(*args):
    print(*args, file=sys.stderr, flush=True)


@unittest.skipIf(webdriver.available(), webdriver.available())
class BrowserAndSoftphone(unittest.TestCase):
    def test_page_and_softphone(self):
        relay, demo, ctl = demo_it.start_demo(self)
        page = demo_it.open_page(self, demo)
        result = page.call("window.prismDemo.join(arguments[0], arguments[1])", BUBBLE, "Ann")
        log(f"page joined: {result}")
        self.assertTrue(result["publish"]["ok"], result)
        self.assertTrue(result["subscribe"]["ok"], result)
        sp.run(self.softphone(ctl, page, result["peer"]))

    async def softphone(self, ctl, page, page_peer):
        phone = sp.Softphone(ctl, demo_it.TENANT, BUBBLE, "softphone-1")
        try:
            phone.join()
            sp.ok(await phone.publish(freq=440), "softphone publish")
            await phone.subscribe()
            sections = sp.sending_sections(phone.offer)
            self.assertEqual(sorted(s["kind"] for s in sections if s["msid"][0] == page_peer),
                             ["audio", "video"], phone.offer)

            async def page_audio():
                # The page's stats() is a blocking WebDriver call: run it off
                # the event loop so aiortc keeps sending meanwhile.
                s = await asyncio.get_running_loop().run_in_executor(
                    None, page.call, "window.prismDemo.stats()")
                return s["publishers"].get(phone.peer, {}).get("audioPacketsReceived", 0), s

            # Both ways, rising for a few seconds.
            deadline = time.monotonic() + MEDIA_TIMEOUT_S
            last = None
            rises = 0
            while rises < 4:
                n, s = await page_audio()
                if last is not None and n > last:
                    rises += 1
                last = n
                if rises < 4 and time.monotonic() > deadline:
                    self.fail(f"the page does not receive the softphone's audio: {s}")
                await asyncio.sleep(1)
            log(f"page <- softphone: {last} audio packets")
            for kind in ("audio", "video"):
                n = await sp.wait_rising(lambda: phone.received_from(page_peer, kind),
                                         MEDIA_TIMEOUT_S, f"softphone's {kind} packets from the page",
                                         rounds=4)
                f = await sp.wait_rising(lambda: phone.frames_from(page_peer, kind),
                                         MEDIA_TIMEOUT_S, f"softphone's {kind} frames from the page",
                                         rounds=4)
                log(f"softphone <- page: {kind} {n} packets, {f} frames")
            n2, s = await page_audio()
            self.assertGreater(n2, last, s)
        finally:
            await phone.close()


if __name__ == "__main__":
    webdriver.unittest_main()
