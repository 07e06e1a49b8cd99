"""Chromium on a lossy downlink (issue 8): how much lost video comes back
and how long the picture freezes, with and without NACK.

measure() runs one condition: a fresh subscribing page joins the bubble (for
"without NACK" its answer loses every `a=rtcp-fb:<pt> nack` line before
setLocalDescription, so Chromium never NACKs and the relay, seeing no nack
in the answer, offers it no rtx); once it decodes, nftables drops one in N of
the UDP datagrams arriving at its port (input hook, `numgen random`, `lo` at
gso_max_segs 1) and counts them in a chain of their own: every drop, and
those of the subscriber's video SSRC and of its rtx SSRC (matched in the
clear RTP header, 8 bytes into the UDP payload). Over the window it reads
the subscriber's getStats (inbound video: freezeCount,
totalFreezesDuration, packetsLost, retransmittedPacketsReceived, nackCount,
framesDecoded) and the relay's stats.get rtx.sent, as differences.

Recovered share = retransmissions the subscriber received on its rtx SSRC
(getStats retransmittedPacketsReceived, at most the drops) / video packets
nftables dropped; the relay side is rtx.sent / video dropped. (Chromium's
packetsLost counts a lost seq even when its retransmission arrived: it is
the drops, not what stayed lost.)

Run directly for the figures of docs/performance.md (root; its own private
network namespace):
    PRISM=build/prism PRISMCTL=build/signaling/prismctl \\
        python3 tests/integration/quality_chromium.py [--window 20] [--runs 3]
test_rtx.py runs one short round at 5 %.
"""
import statistics
import subprocess
import sys
import time

import chromium_call as cc
import webdriver
from chromium_call import log, relay_rtx, sh

BUBBLE = "it-quality"
DEADLINE_S = 60

STATS = cc.video_stats("sub", "inbound-rtp", port="local", last=["ssrc", "rtxSsrc"],
                       sums={"nackCount": "nackCount", "framesDecoded": "framesDecoded",
                             "packetsLost": "packetsLost",
                             "retransmitted": "retransmittedPacketsReceived",
                             "freezeCount": "freezeCount",
                             "totalFreezesDuration": "totalFreezesDuration"})

# Chromium answers without nack: no NACK from it, no rtx offered to it.
NO_NACK = """
(() => {
  const orig = RTCPeerConnection.prototype.createAnswer;
  RTCPeerConnection.prototype.createAnswer = async function (...a) {
    const d = await orig.apply(this, a);
    return {type: d.type, sdp: d.sdp.replace(/a=rtcp-fb:\\d+ nack\\r\\n/g, '')};
  };
  return true;
})()
"""


def nft_counters():
    """Packets counted by the lossy chain's rules: all, video, rtx."""
    out = subprocess.run("nft list chain inet prismq lossy", shell=True, capture_output=True,
                         text=True, check=True).stdout
    counts = {}
    for line in out.splitlines():
        if "counter packets" not in line:
            continue
        n = int(line.split("counter packets")[1].split()[0])
        key = "rtx" if "comment \"rtx\"" in line else "video" if "comment \"video\"" in line \
            else "all"
        counts[key] = n
    return counts


def measure(test, demo, ctl, one_in, nack, window_s, name):
    """One condition; returns a dict of figures. `test` owns the cleanups."""
    sub = cc.open_page(test, demo)
    if not nack:
        sub.call(NO_NACK)
    cc.join(test, sub, BUBBLE, name, "subscribe")
    s = cc.wait_for(test, lambda: sub.call(STATS),
                    lambda s: s and s["port"] and s["framesDecoded"] > 30, DEADLINE_S,
                    lambda s: f"the subscriber decodes nothing: {s}", every_s=1)
    cc.nft_input(test, "prismq")
    sh("nft add chain inet prismq lossy")
    sh(f"nft add rule inet prismq lossy @th,128,32 {s['ssrc']} counter comment '\"video\"'")
    if s["rtxSsrc"]:
        sh(f"nft add rule inet prismq lossy @th,128,32 {s['rtxSsrc']} counter comment '\"rtx\"'")
    sh("nft add rule inet prismq lossy counter drop")
    rtx0 = relay_rtx(ctl)
    before = sub.call(STATS)
    sh(f"nft add rule inet prismq in udp dport {s['port']} numgen random mod {one_in} == 0 "
       "jump lossy")
    time.sleep(window_s)
    sh("nft flush chain inet prismq in")
    after = sub.call(STATS)
    rtx1 = relay_rtx(ctl)
    drops = nft_counters()
    sh("nft delete table inet prismq")
    sub.call("window.prismDemo.leave()")
    sub.quit()
    d = {k: after[k] - before[k] for k in ("nackCount", "framesDecoded", "packetsLost",
                                           "retransmitted", "freezeCount",
                                           "totalFreezesDuration")}
    video = drops.get("video", 0)
    d.update(loss_pct=100.0 / one_in, nack=nack, dropped_all=drops.get("all", 0),
             dropped_video=video, dropped_rtx=drops.get("rtx", 0),
             relay_rtx_sent=rtx1["sent"] - rtx0["sent"],
             recovered_pct=100.0 * min(video, d["retransmitted"]) / video if video else 0.0,
             relay_answered_pct=100.0 * (rtx1["sent"] - rtx0["sent"]) / video if video else 0.0)
    log(f"{name}: {d}")
    return d


def start(test):
    """Relay, demo server and the publishing page; returns (demo, ctl)."""
    relay, demo, ctl = cc.start_demo(test)
    cc.join(test, cc.open_page(test, demo), BUBBLE, "Pub", "publish")
    return demo, ctl


def main():
    import argparse
    import unittest
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=float, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--loss", default="2,5", help="percentages")
    a = ap.parse_args()
    rows = {}

    class Figures(unittest.TestCase):
        def runTest(self):
            demo, ctl = start(self)
            k = 0
            for _ in range(a.runs):
                for pct in [float(x) for x in a.loss.split(",")]:
                    for nack in (True, False):
                        k += 1
                        one_in = round(100 / pct)
                        rows.setdefault((pct, nack), []).append(
                            measure(self, demo, ctl, one_in, nack, a.window, f"Sub{k}"))

    res = unittest.TextTestRunner(verbosity=0).run(Figures())
    print("loss % | NACK | recovered % (retransmitted/dropped) | relay rtx.sent/dropped % | "
          "freezeCount | totalFreezesDuration s | frames decoded | runs (medians)")
    for (pct, nack), ds in sorted((k, v) for k, v in rows.items() if v):
        m = lambda key: statistics.median(d[key] for d in ds)
        print(f"{pct:g} | {'on' if nack else 'off'} | {m('recovered_pct'):.1f} | "
              f"{m('relay_answered_pct'):.1f} | {m('freezeCount'):g} | "
              f"{m('totalFreezesDuration'):.2f} | {m('framesDecoded'):g} | {len(ds)}")
    return 0 if res.wasSuccessful() else 1


if __name__ == "__main__":
    webdriver.private_netns()
    sys.exit(main())
