"""Consent freshness (RFC 7675, issue 3): a connected aiortc peer that goes
silent -- its process killed with SIGKILL, so no DTLS close_notify and no
ICE goodbye, its sockets simply gone -- is reported `peer.state failed` for
both of its transports (publish and subscribe) within 30 s, with a reason;
the other peer's transport in the bubble stays connected.

Slow (~30 s of waiting): meson suite 'slow'. The silent peer is this script
run as a child (`--child`), so killing it is a real process death.
Runs under /usr/bin/python3 (Debian's python3-aiortc) as root in a private
network namespace (CI: `unshare -n`; alone: re-executed under it).
Environment: PRISM, PRISMCTL.
"""
import asyncio
import os
import signal
import subprocess
import sys
import time
import unittest

import webdriver

if __name__ == "__main__" and "--child" not in sys.argv:
    webdriver.private_netns()

import harness  # noqa: E402

try:
    import softphone as sp  # noqa: E402
except ImportError as e:  # Debian's python3-aiortc missing: skipped (meson: 77)
    print(f"skip: aiortc unavailable ({e})", file=sys.stderr)
    sys.exit(77)

CONSENT_S = 30         # the requirement
SLACK_S = 10           # scheduling noise on a loaded 2-core machine
CONNECT_TIMEOUT_S = 60


def log(*args):
    print(*args, file=sys.stderr, flush=True)


async def child(sock, tenant, bubble, peer):
    """The peer that will go silent: publishes a tone, subscribes, says
    READY once both aiortc connections are connected, then waits to die."""
    ctl = harness.Client(sock)
    phone = sp.Softphone(ctl, tenant, bubble, peer)
    phone.join()
    sp.ok(await phone.publish(freq=500), "publish")
    await phone.subscribe()
    await sp.wait_until(lambda: phone.pub.connectionState == "connected"
                        and phone.sub.connectionState == "connected",
                        CONNECT_TIMEOUT_S, "aiortc connected")
    print("READY", flush=True)
    while True:
        await asyncio.sleep(3600)


class Consent(unittest.TestCase):
    def test_silent_peer_fails(self):
        sp.run(self.silent_peer_fails())

    async def silent_peer_fails(self):
        relay = harness.Relay(args=["--media-ip", "127.0.0.1"])
        self.addCleanup(relay.close)
        ctl = relay.unix()
        self.addCleanup(ctl.close)
        t, b = "consent", "room"
        sp.ok(ctl.call("tenant.create", {"tenant": t}), "tenant.create")
        sp.ok(ctl.call("bubble.create", {"tenant": t, "bubble": b}), "bubble.create")
        ev = sp.Events(relay)
        self.addCleanup(ev.close)

        alice = sp.Softphone(ctl, t, b, "alice")
        alice.join()
        try:
            sp.ok(await alice.publish(freq=440), "alice publish")
            proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child",
                                     relay.sock, t, b, "ghost"], stdout=subprocess.PIPE,
                                    text=True)
            self.addCleanup(proc.stdout.close)
            self.addCleanup(lambda: proc.poll() is None and proc.kill())
            line = await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)
            self.assertEqual(line.strip(), "READY", "the child peer did not connect")
            for transport in ("publish", "subscribe"):
                await ev.wait(sp.match("peer.state", peer="ghost", transport=transport,
                                       state="connected"), CONNECT_TIMEOUT_S,
                              f"ghost's {transport} connected")

            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed = time.monotonic()
            log("ghost killed")
            for transport in ("publish", "subscribe"):
                e = await ev.wait(sp.match("peer.state", peer="ghost", transport=transport,
                                           state="failed"), CONSENT_S + SLACK_S,
                                  f"ghost's {transport} failed")
                took = time.monotonic() - killed
                log(f"ghost {transport}: {e} after {took:.1f} s")
                self.assertTrue(e.get("reason"), e)
            ghost = [x for x in ev.all(sp.match("peer.state", peer="ghost"))]
            self.assertNotIn("closed", [x["state"] for x in ghost], ghost)

            info = sp.ok(ctl.call("bubble.info", {"tenant": t, "bubble": b}), "bubble.info")
            log("bubble.info:", info)
            # The other peer is untouched.
            self.assertEqual([x["state"] for x in ev.all(sp.match("peer.state", peer="alice"))],
                             ["connecting", "connected"])
            self.assertEqual(alice.pub.connectionState, "connected")
            self.assertIsNone(relay.proc.poll())
        finally:
            await alice.close()


if __name__ == "__main__":
    if "--child" in sys.argv:
        i = sys.argv.index("--child")
        sp.run(child(*sys.argv[i + 1:i + 5]))
    else:
        webdriver.unittest_main()
