"""prism-bench run --attack (issue 9): each flood kind runs for a few
seconds next to a live bubble of another tenant on the same (one-worker)
relay. Checks, with no timing threshold (a loaded CI would miss any):
the relay survives (it exits 0 on the bench's SIGTERM at the end), every
victim stream flows and no victim peer fails, the flood was sent, and the
relay's stats.get drops over the flood are read and printed; bad-tag SRTP
from a joined transport's address must show as srtp_auth (or srtp_replay)
drops. Unauthenticated STUN and random UDP from unknown source ports are
dropped before the transport sees them (inside ICE) and are not in
stats.get today; the loss and delay figures are printed for the log.

Runs in a private network namespace (unshare -n; root): the flood stays on
its loopback, and the raw socket that spoofs source ports needs root."""
import os
import subprocess
import sys

from common import check, run_bench

if os.geteuid() != 0:
    print("SKIP: needs root for a private network namespace (unshare -n)")
    sys.exit(77)

WRAP = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "netns"]
PPS = "3000"

for kind in ("srtp", "stun", "garbage", "pli"):
    rc, text, r = run_bench(["--bubbles", "1", "--peers", "3", "--duration", "4",
                             "--attack", kind, "--attack-pps", PPS], wrap=WRAP)
    check(r is not None, f"{kind}: no report (exit {rc})", text)
    a = r.get("attack")
    check(a is not None and a["kind"] == kind, f"{kind}: no attack in the report", text)
    check(r["relay_exit_status"] == 0, f"{kind}: relay exit status {r['relay_exit_status']}", text)
    check(r["peers_failed"] == 0, f"{kind}: {r['peers_failed']} victim peers failed", text)
    check(r["streams_flowing"] == r["streams_expected"] > 0,
          f"{kind}: {r['streams_flowing']} of {r['streams_expected']} victim streams flowing", text)
    check(r["packets_forwarded"] > 0, f"{kind}: nothing forwarded", text)
    check(a["packets_sent"] > 0, f"{kind}: the flood sent nothing", text)
    check(a["relay_drops_read"], f"{kind}: stats.get drops not read", text)
    drops = a["relay_drops"]
    if kind == "srtp":
        check(drops["srtp_auth"] + drops["srtp_replay"] > 0,
              f"srtp: no srtp_auth/srtp_replay drop counted: {drops}", text)
    print(f"ok: {kind}: {a['packets_sent']} sent ({a['pps_sent']:.0f}/s, spoofed "
          f"{a['spoofed']}), relay drops {drops}; victims: loss {r['loss_pct']:.3f} %, "
          f"delay p50 {r['delay_ms']['p50']:.1f} p99 {r['delay_ms']['p99']:.1f} ms, relay RSS "
          f"+{a['relay_rss_growth_kib']} KiB during the flood")
