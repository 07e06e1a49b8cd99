"""prism-bench idle (issue 7): 20 peers, each peer.join + peer.publish with
the Chromium audio+video offer and never connected, against a relay the bench
starts (--spawn). The JSON report must say every peer was created, carry the
relay's RSS and open descriptors before and after with positive per-peer
figures (each publish transport holds memory and at least its UDP socket),
show the descriptors given back after tenant.delete, and the relay must exit
cleanly. Then the bench must catch a relay that creates no peer: with an
offer the relay refuses (no BUNDLE), it exits 1 and says why."""
import json
import os
import subprocess
import tempfile

from common import BENCH, PRISM, check


def idle(args):
    """Runs prism-bench idle --spawn with `args`; returns (exit status,
    stdout+stderr, report or None)."""
    with tempfile.TemporaryDirectory(prefix="prism-bench-idle-") as d:
        out = os.path.join(d, "idle.json")
        cmd = [BENCH, "idle", "--spawn", "--prism", PRISM, "--quiet", "--json", out, *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        report = None
        if os.path.exists(out):
            with open(out) as f:
                report = json.load(f)
        return p.returncode, p.stdout + p.stderr, report


rc, text, r = idle(["--peers", "20"])
check(rc == 0, f"prism-bench idle exited {rc}", text)
check(r is not None, "no JSON report", text)
check(r["peers"] == 20 and r["peers_created"] == 20 and r["peers_failed"] == 0,
      f"peers: {r['peers_created']} created, {r['peers_failed']} failed of {r['peers']}"
      f" ({r['first_error']})", text)
rss, fds = r["relay_rss_kib"], r["relay_fds"]
for name, fig in (("relay_rss_kib", rss), ("relay_fds", fds)):
    for key in ("before", "after", "per_peer"):
        check(isinstance(fig.get(key), (int, float)), f"{name}.{key} missing: {fig}", text)
check(rss["before"] > 0 and rss["after"] > rss["before"], f"relay RSS {rss}", text)
check(rss["per_peer"] > 0, f"RSS per peer {rss['per_peer']}", text)
check(abs(rss["per_peer"] - (rss["after"] - rss["before"]) / 20) < 0.01,
      f"RSS per peer is not (after - before) / peers: {rss}", text)
# ICE-lite on the workers' ports (issue 10): a relay transport holds no
# descriptor, so idle peers add none and tenant.delete has none to give back.
check(fds["before"] > 0 and fds["after"] == fds["before"] and fds["per_peer"] == 0,
      f"relay fds {fds}", text)
check(r["after_delete"]["relay_fds"] == fds["after"],
      f"descriptors changed on tenant.delete: {r['after_delete']} after {fds}", text)
check(r["relay_exit_status"] == 0, f"relay exit status {r['relay_exit_status']}", text)
check("verdict: PASS" in text, "no passing verdict", text)

# A relay that creates no peer must fail the bench.
with tempfile.NamedTemporaryFile("w", suffix=".sdp", delete=False) as f:
    f.write("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n")
    bad = f.name
try:
    rc, text2, r2 = idle(["--peers", "3", "--offer", bad])
finally:
    os.unlink(bad)
check(rc == 1, f"with an offer the relay refuses, prism-bench idle exited {rc}", text2)
check(r2 is not None and r2["peers_created"] == 0 and r2["peers_failed"] == 3,
      f"refused peers not reported: {r2}", text2)
check(r2["first_error"] is not None and "bad_sdp" in r2["first_error"],
      f"first_error does not name the refusal: {r2['first_error']}", text2)
check("verdict: FAIL" in text2, "no failing verdict", text2)
print(f"ok: 20 idle peers: {rss['per_peer']:.1f} KiB and {fds['per_peer']:.2f} fds per peer;"
      f" a refused offer fails the bench ({r2['first_error']})")
