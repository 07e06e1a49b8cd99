#!/usr/bin/python3
"""Relay CPU time per forwarded packet in a video bubble of headless Chromium
pages (issue 3, "Measure").

Spawns a relay (--prism, default build-perf/prism, `--media-ip 127.0.0.1`,
optionally pinned to one core with --pin CPU via sched_setaffinity, as
`taskset -c CPU` would), the demo backend (deploy/demo/server.py) on its
control socket, and PAGES headless Chromium pages (tests/integration/
webdriver.py: fake camera and microphone) that join one bubble through the
demo. Once every page decodes video from every other page, waits --warmup
seconds, then over a --window of seconds reads:

  - the relay's utime + stime from /proc/<pid>/stat (all threads), and per
    thread from /proc/<pid>/task/*/stat;
  - the bubble's packets_out and packets_in from stats.get (packets the relay
    sent to subscribers, i.e. forwarded and re-encrypted copies);

and prints relay CPU µs per forwarded packet, forwarded packets/s, the
relay's share of one core, the user/system split, and, from each page's
getStats, the SRTP cipher negotiated, frames decoded/s and packets lost.

Repeat it (--runs N) for several windows on the same call. Run it in a
private network namespace holding only `lo`:

  unshare -n sh -c 'ip link set lo up; /usr/bin/python3 bench/measure_cpu.py'

Chromium costs ~0.4 core per page; on a 2-core machine the pages compete
with the relay for CPU (which changes packets/s, not CPU per packet much).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import webdriver  # noqa: E402

TENANT, BUBBLE = "demo", "cpu"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Per page: inbound video/audio counters and the transports' SRTP cipher, on
# the page's subscribe connection (`call` is the demo page's current call).
PAGE_STATS = """
const s = {framesDecoded: {}, videoPackets: 0, audioPackets: 0, packetsLost: 0, ciphers: []};
for (const pc of [call.pub, call.sub]) {
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'outbound-rtp' && r.kind === 'video')
      s.sending = [r.frameWidth, r.frameHeight, r.framesPerSecond, r.qualityLimitationReason];
    if (r.type === 'transport') s.ciphers.push([pc === call.pub ? 'publish' : 'subscribe',
                                                r.srtpCipher, r.dtlsCipher, r.tlsVersion]);
    if (pc !== call.sub || r.type !== 'inbound-rtp') return;
    if (r.kind === 'video') { s.framesDecoded[r.ssrc] = r.framesDecoded || 0;
                              s.videoPackets += r.packetsReceived || 0; }
    if (r.kind === 'audio') s.audioPackets += r.packetsReceived || 0;
    s.packetsLost += r.packetsLost || 0;
  });
}
return s;
"""


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Control:
    """Blocking JSON-RPC on the relay's Unix control socket."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.s.settimeout(30)
        self.buf = b""
        self.id = 0

    def call(self, method, params=None):
        self.id += 1
        self.s.sendall(json.dumps({"jsonrpc": "2.0", "id": self.id, "method": method,
                                   "params": params or {}}).encode() + b"\n")
        while True:
            while b"\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise EOFError("control connection closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            msg = json.loads(line)
            if msg.get("id") == self.id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]


def proc_cpu(pid):
    """(utime, stime) in seconds of process or task `pid` (a /proc path tail)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def thread_cpu(pid):
    """{thread name/tid: seconds on CPU} from /proc/<pid>/task/*/schedstat
    (nanoseconds, finer than the 10 ms ticks of utime/stime)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
        except OSError:
            continue
        out[f"{name}/{tid}{'(main)' if int(tid) == pid else ''}"] = ns / 1e9
    return out


def start_relay(prism, workers, pin):
    d = tempfile.mkdtemp(prefix="prism-cpu-")
    sock = os.path.join(d, "control.sock")
    cfg = os.path.join(d, "prism.conf")
    with open(cfg, "w") as f:
        f.write(f"[control]\nsocket = {sock}\n[log]\nfile = {d}/prism.log\n"
                f"audit_file = {d}/audit.log\nlevel = info\n")
    args = [prism, "--config", cfg, "--media-ip", "127.0.0.1"]
    if workers:
        args += ["--workers", str(workers)]
    pre = None if pin is None else (lambda: os.sched_setaffinity(0, {pin}))
    proc = subprocess.Popen(args, preexec_fn=pre)
    deadline = time.monotonic() + 20
    while not os.path.exists(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"relay did not start (exit {proc.poll()})")
        time.sleep(0.02)
    return proc, d, sock


def start_demo(sock, d):
    port = webdriver.free_port()
    logf = open(os.path.join(d, "demo.log"), "w")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "deploy", "demo", "server.py"),
                             "--control", sock, "--listen", f"127.0.0.1:{port}",
                             "--tenant", TENANT], stdout=logf, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=2):
                return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("demo server did not start")
            time.sleep(0.05)


def page_stats(pages):
    return [p.execute_async("const done = arguments[arguments.length - 1];"
                            f"(async () => {{ {PAGE_STATS} }})().then(done, "
                            "e => done({error: String(e)}));") for p in pages]


def wait_all_decode(pages, timeout_s=120):
    """Until every page decodes video from every other page."""
    deadline = time.monotonic() + timeout_s
    while True:
        ok = True
        for p in pages:
            s = p.call("window.prismDemo.stats()")
            others = len(pages) - 1
            pubs = s["publishers"]
            if len(pubs) < others or any(v.get("framesDecoded", 0) == 0 for v in pubs.values()):
                ok = False
                break
        if ok:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"not every page decodes every other one: {s}")
        time.sleep(1)


def count_syscalls(ctl, pid, seconds):
    """After the measured windows (strace slows the relay down): system calls
    of every relay thread over `seconds`, per forwarded packet."""
    st0 = ctl.call("stats.get", {"tenant": TENANT, "bubble": BUBBLE})
    p = subprocess.Popen(["strace", "-c", "-f", "-q", "-p", str(pid)],
                         stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    st1 = ctl.call("stats.get", {"tenant": TENANT, "bubble": BUBBLE})
    out = st1["packets_out"] - st0["packets_out"]
    inn = st1["packets_in"] - st0["packets_in"]
    calls = {}
    for line in err.splitlines():
        f = line.split()
        if len(f) >= 5 and f[3].isdigit() and f[-1] not in ("total", "syscall"):
            calls[f[-1]] = int(f[3])
    print(f"system calls over {seconds} s under strace ({out} packets forwarded, {inn} in), "
          "per forwarded packet:")
    for name, n in sorted(calls.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {name:16s} {n:8d}  {n / out if out else 0:.2f}")
    return {"packets_out": out, "packets_in": inn, "calls": calls}


def perf_profile(pid, seconds, d):
    """After the measured windows: `perf record` (cpu-clock) of the relay for
    `seconds`; prints the top symbols (kernel ones too when allowed)."""
    data = os.path.join(d, "perf.data")
    subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "4999", "-g", "-p", str(pid),
                    "-o", data, "--", "sleep", str(seconds)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    top = []
    for sort, limit in (("dso", "0.5"), ("dso,sym", "0.8")):
        rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                              "--sort", sort, "-g", "none", "--percent-limit", limit],
                             capture_output=True, text=True).stdout
        lines = [x.strip() for x in rep.splitlines() if x.strip() and not x.startswith("#")]
        print(f"perf (cpu-clock) of the relay over {seconds} s, by {sort} above {limit}%:")
        for x in lines[:30]:
            print("  " + x)
        top.append(lines)
    return top


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prism", default=os.path.join(ROOT, "build-perf", "prism"))
    ap.add_argument("--pages", type=int, default=4)
    ap.add_argument("--workers", type=int, default=0,
                    help="relay media workers (default: the relay's, one per core)")
    ap.add_argument("--pin", type=int, help="pin the relay to this CPU")
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--window", type=float, default=20)
    ap.add_argument("--runs", type=int, default=1, help="windows measured back to back")
    ap.add_argument("--syscalls", type=float, default=0, metavar="S",
                    help="after the windows, count the relay's system calls for S s (strace)")
    ap.add_argument("--perf", type=float, default=0, metavar="S",
                    help="after the windows, profile the relay for S s (perf record)")
    ap.add_argument("--json")
    args = ap.parse_args()
    prism = os.path.abspath(args.prism)

    relay, d, sock = start_relay(prism, args.workers, args.pin)
    demo = None
    pages = []
    results = []
    try:
        demo, url = start_demo(sock, d)
        ctl = Control(sock)
        for i in range(args.pages):
            b = webdriver.Browser()
            pages.append(b)
            b.get(url + "/")
            r = b.call("window.prismDemo.join(arguments[0], arguments[1])", BUBBLE, f"P{i}")
            if not (r["publish"]["ok"] and r["subscribe"]["ok"]):
                raise RuntimeError(f"page {i} did not join: {r}")
        t_join = time.monotonic()
        wait_all_decode(pages)
        log(f"all {args.pages} pages decode every other page "
            f"{time.monotonic() - t_join:.1f} s after the last join; warming up {args.warmup} s")
        time.sleep(args.warmup)
        for run in range(args.runs):
            st0 = ctl.call("stats.get", {"tenant": TENANT, "bubble": BUBBLE})
            u0, s0 = proc_cpu(relay.pid)
            th0 = thread_cpu(relay.pid)
            ps0 = page_stats(pages)
            t0 = time.monotonic()
            time.sleep(args.window)
            st1 = ctl.call("stats.get", {"tenant": TENANT, "bubble": BUBBLE})
            u1, s1 = proc_cpu(relay.pid)
            th1 = thread_cpu(relay.pid)
            t1 = time.monotonic()
            ps1 = page_stats(pages)
            wall = t1 - t0
            out = st1["packets_out"] - st0["packets_out"]
            inn = st1["packets_in"] - st0["packets_in"]
            cpu = (u1 - u0) + (s1 - s0)
            r = {"wall_s": round(wall, 3), "packets_in": inn, "packets_out": out,
                 "relay_cpu_s": round(cpu, 3), "user_s": round(u1 - u0, 3),
                 "sys_s": round(s1 - s0, 3),
                 "us_per_packet_out": round(cpu * 1e6 / out, 2) if out else None,
                 "packets_out_per_s": round(out / wall, 1),
                 "packets_in_per_s": round(inn / wall, 1),
                 "relay_core_share": round(cpu / wall, 3),
                 "threads_cpu_s": {k: round(th1[k] - th0.get(k, 0), 3) for k in th1},
                 "schedstat_cpu_s": round(sum(th1.values()) - sum(th0.values()), 3),
                 "drops": {k: st1["drops"][k] - st0["drops"].get(k, 0) for k in st1["drops"]},
                 "pages": [{"frames_decoded_per_s": [
                                round((b["framesDecoded"][k] - a["framesDecoded"].get(k, 0))
                                      / wall, 1) for k in sorted(b["framesDecoded"])],
                            "packets_lost": b["packetsLost"] - a["packetsLost"],
                            "sending": b.get("sending"),
                            "ciphers": b["ciphers"]} for a, b in zip(ps0, ps1)]}
            results.append(r)
            print(f"window {run}: {out} packets forwarded in {wall:.1f} s "
                  f"({r['packets_out_per_s']:.0f}/s; {r['packets_in_per_s']:.0f}/s in), "
                  f"relay CPU {cpu:.2f} s (user {r['user_s']:.2f}, sys {r['sys_s']:.2f}; "
                  f"{100 * cpu / wall:.0f}% of a core): "
                  f"{r['us_per_packet_out']} us per forwarded packet", flush=True)
            print(f"  on-CPU time per thread (schedstat, s): {r['threads_cpu_s']}; sum "
                  f"{r['schedstat_cpu_s']} s = "
                  f"{r['schedstat_cpu_s'] * 1e6 / out if out else 0:.2f} us/packet")
            print(f"  drops: {r['drops']}")
            for i, p in enumerate(r["pages"]):
                print(f"  page {i}: frames/s decoded per remote video {p['frames_decoded_per_s']}, "
                      f"{p['packets_lost']} packets lost, sends video "
                      f"{p['sending']} (w, h, fps, qualityLimitationReason), "
                      f"transports {p['ciphers']}")
        if len(results) > 1:
            xs = sorted(r["us_per_packet_out"] for r in results)
            ps = sorted(r["packets_out_per_s"] for r in results)
            print(f"median over {len(results)} windows: {xs[len(xs) // 2]} us/packet, "
                  f"{ps[len(ps) // 2]} packets/s")
        extra = {}
        if args.syscalls:
            extra["syscalls"] = count_syscalls(ctl, relay.pid, args.syscalls)
        if args.perf:
            extra["perf"] = perf_profile(relay.pid, args.perf, d)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"args": vars(args), "windows": results, **extra}, f, indent=1)
    finally:
        for b in pages:
            b.quit()
        if demo is not None:
            demo.terminate()
            try:
                demo.wait(timeout=10)
            except subprocess.TimeoutExpired:
                demo.kill()
        relay.send_signal(signal.SIGTERM)
        try:
            relay.wait(timeout=30)
        except subprocess.TimeoutExpired:
            relay.kill()
            relay.wait()
        logf = os.path.join(d, "prism.log")
        if os.path.exists(logf):
            lines = open(logf).read().splitlines()
            bad = [x for x in lines if '"level":"error"' in x or '"level":"warn' in x]
            log(f"relay log: {len(lines)} lines, {len(bad)} warning/error")
            for x in bad[-10:]:
                log("  " + x)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
