"""prism-bench run --loss (issue 8): media quality on a lossy downlink.

One bubble of 3 video peers for 6 s against the relay (--spawn, in a private
network namespace); every subscriber drops 5 % of the RTP it receives
(deterministic, --loss-seed 1). With NACK (the default) the report's quality
section says what was lost and that some of it came back as retransmissions;
with --no-nack nothing comes back and nothing is asked for. No timing
threshold: only counts the relay cannot fake."""
import os
import sys

from common import check, run_bench

if os.geteuid() != 0:
    print("SKIP: needs root for a private network namespace (unshare -n)")
    sys.exit(77)

WRAP = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "netns"]
BASE = ["--bubbles", "1", "--peers", "3", "--duration", "6", "--video", "--loss", "5"]
FIELDS = ["loss_pct", "nack", "seed", "lost", "video_lost", "audio_lost", "rtx_lost", "recovered",
          "unrecovered", "late", "recovered_pct", "rtx_received", "given_up", "nacks_sent",
          "seqs_nacked", "freeze_count", "total_freezes_duration_s", "video_streams",
          "loss_beyond_pct"]


def quality(args):
    rc, text, r = run_bench(BASE + args, wrap=WRAP)
    check(r is not None, f"no report (exit {rc})", text)
    check(r["verdict"] == "pass", f"verdict {r['verdict']}: {r['failures']}", text)
    check(r["streams_flowing"] == r["streams_expected"] == 12, "not every stream flowed", text)
    q = r.get("quality")
    check(q is not None, "report lacks the quality section", text)
    for key in FIELDS:
        check(key in q, f"quality lacks {key}", text)
    check(q["video_streams"] == 6, f"video_streams {q['video_streams']}", text)
    check(q["loss_pct"] == 5 and q["seed"] == 1, f"loss/seed {q}", text)
    check(q["video_lost"] > 0 and q["audio_lost"] > 0, f"nothing dropped: {q}", text)
    check(q["lost"] == q["video_lost"] + q["audio_lost"] + q["rtx_lost"], f"lost sum {q}", text)
    check(q["recovered"] + q["unrecovered"] == q["video_lost"], f"recovered sum {q}", text)
    for s in r["streams"]:
        if s["kind"] == "video":
            check("freeze_count" in s.get("quality", {}), f"stream lacks quality: {s}", text)
    check("video packets recovered" in text and "freezes (Chromium" in text, "text summary", text)
    return q


with_nack = quality([])
check(with_nack["nack"] is True, "nack not on by default")
check(with_nack["nacks_sent"] > 0, f"no NACK sent: {with_nack}")
check(with_nack["rtx_received"] > 0, f"no retransmission arrived: {with_nack}")
check(with_nack["recovered"] > 0 and with_nack["recovered_pct"] > 0,
      f"nothing recovered: {with_nack}")

without = quality(["--no-nack"])
check(without["nack"] is False, "--no-nack not reported")
check(without["nacks_sent"] == 0 and without["seqs_nacked"] == 0, f"NACKs sent: {without}")
check(without["recovered"] == 0 and without["rtx_received"] == 0, f"recovered: {without}")
check(without["unrecovered"] == without["video_lost"], f"unrecovered: {without}")
print(f"ok: with NACK {with_nack['recovered']} of {with_nack['video_lost']} lost video packets "
      f"recovered, {with_nack['freeze_count']} freezes; without NACK 0 of {without['video_lost']},"
      f" {without['freeze_count']} freezes")
