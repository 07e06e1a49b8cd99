"""prism-bench's cheap receive path and loop threads (issue 10, item 7):
2 bubbles x 4 peers, audio and video, 5 s, --threads 2 --verify-sample 3.
Media flows on every stream; the subscribers that verify (one in 3: p0 of b0,
p3 of b0, p2 of b1 in join order 0, 3, 6) decode what they get with zero
decode errors; the others account every packet from its clear header and
authenticate a sample of it (packets_authenticated_sampled), with no
ingress drop of any reason in the bench's transports (a sample refused by
SRTP would be one); loss is read from the headers as on the full path."""
from common import check, run_bench

rc, text, r = run_bench(["--bubbles", "2", "--peers", "4", "--duration", "5", "--video",
                         "--threads", "2", "--verify-sample", "3"])
check(rc == 0, f"prism-bench exited {rc}", text)
check(r is not None, "no JSON report", text)
check(r["verdict"] == "pass" and r["failures"] == [], f"verdict {r['verdict']} {r['failures']}")
check(r["scenario"]["verify_sample"] == 3, f"scenario: {r['scenario']}")
check(r["peers_ready"] == 8 and r["peers_failed"] == 0, "peers", text)
check(r["loss_pct"] <= 1.0, f"loss {r['loss_pct']} %")
check(r["decode_errors"] == 0, "decode errors")
check(r["packets_authenticated_sampled"] > 0, "no sampled packet authenticated", text)
check(all(v == 0 for v in r["bench_drops"].values()), f"bench drops: {r['bench_drops']}")
check(0 < r["delay_ms"]["p50"] <= r["delay_ms"]["p99"], "delay percentiles")

# 2 bubbles x 4 subscribers x 3 other publishers x (audio, video).
streams = r["streams"]
check(r["streams_expected"] == 48 and len(streams) == 48, f"{len(streams)} streams", text)
verifying = {("b0", "p0"), ("b0", "p3"), ("b1", "p2")}
for s in streams:
    check(s["packets"] > 0, f"no packets on {s}")
    check(s["decode_errors"] == 0, f"decode errors on {s}")
    if (s["bubble"], s["subscriber"]) in verifying:
        check(s["frames_decoded"] > 0, f"a verifying subscriber decoded nothing on {s}")
    else:
        check(s["frames_decoded"] == 0, f"a sampling subscriber decoded on {s}")
print("ok: threads and sampled verification:", r["packets_authenticated_sampled"],
      "sampled packets authenticated")
