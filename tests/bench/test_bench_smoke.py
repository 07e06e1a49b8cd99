"""prism-bench smoke scenario (issue 4): 2 bubbles x 3 peers, 5 s, audio and
video, --spawn. Media must flow both ways (every peer publishes Opus + VP8
and receives every other member's), with zero decode errors, a passing
verdict, no egress drop in the relay, a relay that exits 0 on the bench's
SIGTERM and a well-formed JSON
report; --html writes a self-contained report (no http:// or https://
reference, inline <svg> plots)."""
import numbers
import os
import re
import tempfile

from common import REQUIRED_KEYS, check, run_bench

with tempfile.TemporaryDirectory(prefix="prism-bench-html-") as d:
    html_path = os.path.join(d, "report.html")
    rc, text, r = run_bench(["--bubbles", "2", "--peers", "3", "--duration", "5", "--video",
                             "--html", html_path])
    html = open(html_path).read() if os.path.exists(html_path) else None
check(rc == 0, f"prism-bench exited {rc}", text)
check(r is not None, "no JSON report", text)
check(html is not None, "no HTML report written", text)
check(re.search(r"https?://", html, re.I) is None,
      "the HTML report refers to something outside itself: "
      + str(re.findall(r".{0,40}https?://.{0,40}", html, re.I)[:3]))
check("<svg" in html, "the HTML report has no <svg> plot")
check(html.lstrip().lower().startswith("<!doctype html") and "</html>" in html,
      "the HTML report is not a whole document")
for key in REQUIRED_KEYS:
    check(key in r, f"report lacks {key}", text)
for key in ("packets_forwarded", "loss_pct", "decode_errors", "relay_cpu_us_per_packet",
            "relay_rss_kib_per_peer"):
    check(isinstance(r[key], numbers.Number), f"{key} is not a number: {r[key]!r}")
check(set(r["delay_ms"]) >= {"p50", "p99"}, f"delay_ms: {r['delay_ms']}")
check(set(r["join_ms"]) >= {"p50", "p95", "p99"}, f"join_ms: {r['join_ms']}")
check(r["verdict"] == "pass" and r["failures"] == [], f"verdict {r['verdict']} {r['failures']}")
check(r["decode_errors"] == 0, "decode errors")
# A sanitizer's report in the relay (TSan exit 66, LSan 23, an abort) shows
# only in its exit status: the relay is prism-bench's child, not the harness's.
check(r["relay_exit_status"] == 0, f"relay exit status {r['relay_exit_status']}", text)
check(r["packets_forwarded"] > 0, "the relay forwarded nothing")
# A clean call on loopback drops nothing on the way out (a keyframe request
# to a publisher still connecting used to be counted here, one per join).
check(r.get("relay_drops", {}).get("egress") == 0, f"relay drops {r.get('relay_drops')}", text)
check(r["relay_cpu_us_per_packet"] > 0, "no relay CPU figure")
check(0 < r["join_ms"]["p50"] <= r["join_ms"]["p95"] <= r["join_ms"]["p99"], "join percentiles")
check(0 < r["delay_ms"]["p50"] <= r["delay_ms"]["p99"], "delay percentiles")

# Both ways: 2 bubbles x 3 subscribers x 2 other publishers x (audio, video).
streams = r["streams"]
check(r["streams_expected"] == 24 and len(streams) == 24, f"{len(streams)} streams", text)
pairs = set()
for s in streams:
    check(s["packets"] > 0, f"no packets on {s}")
    check(s["frames_decoded"] > 0, f"nothing decoded on {s}")
    check(s["decode_errors"] == 0, f"decode errors on {s}")
    pairs.add((s["bubble"], s["subscriber"], s["publisher"], s["kind"]))
for b in ("b0", "b1"):
    for sub in ("p0", "p1", "p2"):
        for pub in ("p0", "p1", "p2"):
            for kind in ("audio", "video"):
                if sub != pub:
                    check((b, sub, pub, kind) in pairs, f"missing {b} {pub} -> {sub} {kind}")
print("ok: smoke scenario passed:", {k: r[k] for k in REQUIRED_KEYS}, f"html {len(html)} bytes")
