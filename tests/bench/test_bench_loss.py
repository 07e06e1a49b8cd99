"""prism-bench must catch a bad path (issue 4): with 20 % loss injected on
the loopback of a private network namespace once the call runs, the verdict
fails and names the loss.

Loss injection: `tc qdisc add dev lo root netem loss 20%` (Debian iproute2,
kernel sch_netem). Kernels built without netem (CONFIG_NET_SCH_NETEM unset
and no modules, as on this project's VMs) get the same 20 % from nftables
(`numgen random mod 5 == 0 drop` on UDP, if the `nft` tool is installed). With
neither, the test is skipped (exit 77) and says exactly why."""
import os
import shutil
import subprocess
import sys

from common import check, run_bench

if os.geteuid() != 0:
    print("SKIP: needs root for a private network namespace (unshare -n)")
    sys.exit(77)


def in_netns(script):
    """Runs `script` (sh) in a fresh network namespace with lo up."""
    return subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up && " + script],
                          capture_output=True, text=True)


NETEM = "tc qdisc add dev lo root netem loss 20%"
NFT = ("nft add table inet prismbench && "
       "nft add chain inet prismbench out '{ type filter hook output priority 0; }' && "
       "nft add rule inet prismbench out meta l4proto udp numgen random mod 5 == 0 drop")

probe = in_netns(NETEM) if shutil.which("tc") else None
if probe is not None and probe.returncode == 0:
    inject, how = NETEM, "netem"
else:
    why = ("tc not installed (Debian iproute2)" if probe is None
           else f"netem unavailable: `{NETEM}` says {probe.stderr.strip()!r}")
    if shutil.which("nft") and in_netns(NFT).returncode == 0:
        inject, how = NFT, "nftables (" + why + ")"
    else:
        print(f"SKIP: cannot inject loss: {why}; nftables fallback unavailable "
              "(no `nft` tool: Debian package nftables)")
        sys.exit(77)

# The loss starts once the peers have joined (3 s into the run): the bench
# must report it as loss on flowing streams, not as peers that never joined.
wrap = ["unshare", "-n", "sh", "-c", f"ip link set lo up; (sleep 3; {inject}) & exec \"$@\"",
        "netns"]
rc, text, r = run_bench(["--bubbles", "1", "--peers", "3", "--duration", "8", "--video"], wrap=wrap)
check(rc == 1, f"prism-bench exited {rc}, expected a failing verdict (1)", text)
check(r is not None and r["verdict"] == "fail", "report verdict is not fail", text)
check(r["loss_pct"] > 1.0, f"loss_pct {r['loss_pct']} under injected loss", text)
check(any(f.startswith("loss ") for f in r["failures"]), f"failures {r['failures']}", text)
check("verdict: FAIL" in text and "loss" in text.split("verdict: FAIL")[1], "verdict line", text)
print(f"ok: loss injected with {how}: loss {r['loss_pct']:.1f} %, verdict: {r['failures']}")
