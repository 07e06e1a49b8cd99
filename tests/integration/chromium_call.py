"""Calls of headless Chromium pages through the demo (deploy/demo), shared by
the Chromium integration tests: the relay and the demo backend, pages that
join a bubble (a publisher and its subscriber in call_in_bubble), their
getStats, a publisher's re-offer, the relay's events and transport counts,
and the nftables tables that make a page's network lossy or slow.

A test script calls webdriver.private_netns() before importing this module
(nftables and Chromium want the private namespace); the helpers that own
something (a relay, a page, a table) register its cleanup with the test.

    relay, demo, ctl = chromium_call.start_demo(self)
    pub, sub = chromium_call.open_pages(self, demo, None, chromium_call.AUDIO_ONLY)
    chromium_call.join(self, pub, "b", "Pub", "publish")

Environment: PRISM, PRISMCTL (harness.py).
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import harness
import webdriver
from harness import Relay, free_port, log

DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "demo",
                    "server.py")
TENANT = "demo-it"

# A page that joins with its microphone only (a subscriber whose own video
# would only load the machine): run it with setup() before the page joins.
AUDIO_ONLY = """
const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = () => gum({audio: true, video: false});
"""

# The selected candidate pair of each of the page's connections (publish,
# subscribe), with what the tests read of both its candidates.
SELECTED_PAIRS = """
(async () => {
  const out = {};
  for (const [name, pc] of [['publish', call && call.pub], ['subscribe', call && call.sub]]) {
    if (!pc) continue;
    const byId = {};
    let pair = null;
    (await pc.getStats()).forEach((r) => {
      byId[r.id] = r;
      if (r.type === 'transport' && r.selectedCandidatePairId) pair = r.selectedCandidatePairId;
    });
    const p = pair && byId[pair];
    if (!p) continue;
    const l = byId[p.localCandidateId] || {}, r = byId[p.remoteCandidateId] || {};
    out[name] = {state: p.state, bytesReceived: p.bytesReceived,
                 local: {type: l.candidateType, address: l.address, port: l.port,
                         protocol: l.protocol, tcpType: l.tcpType,
                         relayProtocol: l.relayProtocol},
                 remote: {type: r.candidateType, address: r.address, port: r.port,
                          protocol: r.protocol}};
  }
  return out;
})()
"""

# A function for a page's script: reofferPublish() makes a new offer on the
# demo's publish connection as it is (a test calls restartIce() or changes
# its tracks first), sends it to /api/publish (the relay's peer.publish) and
# applies the answer. It returns the descriptions before and after, and
# when the offer was sent and answered (Date.now(): one clock for every
# page), or {error, status} if the backend refused it.
REOFFER_PUBLISH = """
async function reofferPublish() {
  const c = call, pc = call.pub;
  const prevOffer = pc.localDescription.sdp, prevAnswer = pc.remoteDescription.sdp;
  await pc.setLocalDescription(await pc.createOffer());
  const sent = Date.now();
  const r = await fetch('/api/publish', {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({bubble: c.bubble, peer: c.peer, token: c.token,
                          offer: pc.localDescription.sdp}),
  });
  const reply = await r.json();
  if (!r.ok) return {error: reply, status: r.status};
  const answered = Date.now();
  await pc.setRemoteDescription({type: 'answer', sdp: reply.answer});
  return {prevOffer, prevAnswer, offer: pc.localDescription.sdp, answer: reply.answer,
          sent, answered};
}
"""


class DemoServer:
    """deploy/demo/server.py on a free loopback port, against `relay`."""

    def __init__(self, relay):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(relay.dir, "demo.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, DEMO, "--control", relay.sock, "--listen",
             f"127.0.0.1:{self.port}", "--tenant", TENANT],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("demo server did not start: " + self.output())
                time.sleep(0.05)

    def post(self, op, body):
        """POST /api/<op>: returns (HTTP status, JSON reply)."""
        req = urllib.request.Request(f"{self.url}/api/{op}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def output(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def close(self):
        harness.terminate(self.proc)
        self.log.close()


def demo_on(test, relay):
    """A demo server on `relay` and a control connection to it, closed after
    `test`: returns (demo, ctl)."""
    demo = DemoServer(relay)
    test.addCleanup(demo.close)
    ctl = relay.unix()
    test.addCleanup(ctl.close)
    return demo, ctl


def start_demo(test, relay_args=("--media-ip", "127.0.0.1")):
    """Relay (started with `relay_args`) + demo server for `test`, cleaned up
    after it: returns (relay, demo, ctl), ctl a control connection."""
    relay = Relay(args=list(relay_args))
    test.addCleanup(relay.close)
    return (relay, *demo_on(test, relay))


def open_page(test, demo, extra_flags=()):
    """A Chromium page on the demo (Chromium given `extra_flags` too), quit
    after `test`; its console goes to stderr at the end (for diagnosis)."""
    b = webdriver.Browser(extra_flags=extra_flags)
    test.addCleanup(b.quit)

    def dump_console():
        for entry in b.console():
            log(f"console[{b.port}]:", entry.get("level"), entry.get("message"))
    test.addCleanup(dump_console)
    b.get(demo.url + "/")
    return b


def setup(page, script):
    """Runs `script` (statements, e.g. AUDIO_ONLY) in `page` before it joins:
    how a test changes what the demo's page sends or negotiates."""
    page.call(f"(() => {{ {script} }})()")


def open_pages(test, demo, *setups):
    """One page per entry of `setups`, all opened first, then each given its
    setup script (None: the demo as it is); returns the pages."""
    pages = [open_page(test, demo) for _ in setups]
    for page, script in zip(pages, setups):
        if script is not None:
            setup(page, script)
    return pages


def join(test, page, bubble, name, *expect):
    """The page joins `bubble` as `name` through the demo backend; each of
    `expect` ("publish", "subscribe") must have succeeded. Returns the
    page's join result (its "peer" is the relay's peer id)."""
    r = page.call("window.prismDemo.join(arguments[0], arguments[1])", bubble, name)
    for what in expect:
        test.assertTrue(r[what]["ok"], r)
    return r


def frames_from(page, publisher):
    """The video frames `page` has decoded from `publisher` (a peer id),
    and the page's whole window.prismDemo.stats() for messages."""
    s = page.call("window.prismDemo.stats()")
    return s["publishers"].get(publisher, {}).get("framesDecoded", 0), s


def call_in_bubble(test, relay, bubble, connect_s=60):
    """The demo on `relay`, a publishing page "Pub" and a subscribing page
    "Sub" in `bubble`, once the publisher has a selected candidate pair and
    the subscriber decodes its video (within `connect_s` seconds); returns
    (ctl, pub page, sub page, pub peer id, sub peer id)."""
    demo, ctl = demo_on(test, relay)
    pub, sub = open_pages(test, demo, None, None)
    pub_peer = join(test, pub, bubble, "Pub", "publish")["peer"]
    sub_peer = join(test, sub, bubble, "Sub", "subscribe")["peer"]

    def connected(v):
        pair = v[0].get("publish", {})
        return pair.get("state") == "succeeded" and pair["local"].get("port") and v[1] > 0
    wait_for(test, lambda: (pub.call(SELECTED_PAIRS), *frames_from(sub, pub_peer)), connected,
             connect_s, lambda v: f"no media: {v}", every_s=0.5)
    return ctl, pub, sub, pub_peer, sub_peer


def prefer(test, ctl, bubble, peer, publisher, **pref):
    """peer.prefer in the demo's tenant: `peer`'s preference `pref` for
    `publisher`'s tracks; it must succeed."""
    reply = harness.prefer(ctl, TENANT, bubble, peer, publisher, **pref)
    test.assertIn("result", reply, reply)


def wait_for(test, poll, done, deadline_s, failure, every_s=2, sleep_first=False):
    """Calls `poll()` every `every_s` seconds (sleeping before each call
    with `sleep_first`, else after each) until `done(value)` holds of what
    it returned, and returns that value. Fails `test` with
    `failure(value)` once `deadline_s` seconds have passed since the call
    and the last value is still not done."""
    since = time.monotonic()
    while True:
        if sleep_first:
            time.sleep(every_s)
        value = poll()
        if done(value):
            return value
        test.assertLess(time.monotonic() - since, deadline_s, failure(value))
        if not sleep_first:
            time.sleep(every_s)


def both_decode(a, b):
    """Whether two subscribers' video_stats() (None before they have a
    connection) both count decoded frames."""
    return bool(a and b and a["framesDecoded"] > 0 and b["framesDecoded"] > 0)


def at_most_half(low, high):
    """Whether subscriber `low` decodes a picture (stats key "height") and
    `high` one twice as tall or more: on different layers of a publisher
    whose layers are 2x apart or more, even when a loaded machine makes
    Chromium scale them all down."""
    return 0 < low["height"] and high["height"] >= 2 * low["height"]


def poll(start, pub, pub_stats, sub_stats, **subs):
    """Reads `pub_stats` (JavaScript for page.call) in the publishing page
    `pub` and `sub_stats` in each subscribing page of `subs` (by a label for
    the log), logs them with the seconds since `start` (time.monotonic()),
    and returns the publisher's reading followed by the subscribers'."""
    p = pub.call(pub_stats)
    got = [page.call(sub_stats) for page in subs.values()]
    log(f"{time.monotonic() - start:5.1f}s publisher {p} "
        + " ".join(f"{label} {v}" for label, v in zip(subs, got)))
    return (p, *got)


def media_from(test, pages, peers, over, timeout_s, how):
    """Waits until each page (pages[i] is peers[i]) decodes more video
    frames from every other peer than `over` ({peer: frames}) says and
    receives its audio; `how` ends the messages ("over TCP"). One deadline
    for all. Returns {publishing peer: frames decoded} as last seen."""
    now = {}
    deadline = time.monotonic() + timeout_s
    for page, me in zip(pages, peers):
        others = [p for p in peers if p != me]
        while True:
            s = page.call("window.prismDemo.stats()")
            got = s["publishers"]
            if all(got.get(p, {}).get("framesDecoded", 0) > over[p]
                   and got.get(p, {}).get("audioPacketsReceived", 0) > 0 for p in others):
                now.update({p: got[p]["framesDecoded"] for p in others})
                log(f"{me} receives {others} {how}: {got}")
                break
            test.assertLess(time.monotonic(), deadline,
                            f"{me} receives no media from {others} {how}: {s}")
            time.sleep(1)
    return now


def video_stats(conn, rtp, port=None, sums=(), last=(), maxes=(), count=None, codec=None):
    """JavaScript for page.call(): the getStats of the demo's `call.<conn>`
    ("pub" or "sub") reduced over its video `rtp` records ("inbound-rtp" or
    "outbound-rtp") into one object, null before the connection exists.
    `sums`, `last` and `maxes` map keys of the result to stats (a list
    names stats kept under their own names): the sum over the records, the
    last record's value, the largest; `count` names a key counting the
    records, `codec` one for the codec's mimeType. With `port` ("local" or
    "remote"), key "port" is that candidate's port on the nominated,
    succeeded pair (0 before there is one)."""
    named = lambda m: dict(m) if isinstance(m, dict) else {k: k for k in m}
    sums, last, maxes = named(sums), named(last), named(maxes)
    init = ([("port", "0")] if port else []) + [(k, "0") for k in (*sums, *last, *maxes)]
    init += [(count, "0")] if count else []
    init += [(codec, "''")] if codec else []
    each = [f"out.{k} += r.{v} || 0;" for k, v in sums.items()]
    each += [f"out.{k} = r.{v} || 0;" for k, v in last.items()]
    each += [f"out.{k} = Math.max(out.{k}, r.{v} || 0);" for k, v in maxes.items()]
    each += [f"out.{count}++;"] if count else []
    each += ["const c = r.codecId && stats.get(r.codecId);",
             f"if (c) out.{codec} = c.mimeType;"] if codec else []
    lines = ["(async () => {", f"  const pc = call && call.{conn};", "  if (!pc) return null;",
             "  const out = {" + ", ".join(f"{k}: {v}" for k, v in init) + "};"]
    lines += ["  const cands = {};", "  let pair = null;"] if port else []
    lines += ["  const stats = await pc.getStats();", "  stats.forEach((r) => {"]
    if port:
        lines += [f"    if (r.type === '{port}-candidate') cands[r.id] = r;",
                  "    if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded')"
                  " pair = r;"]
    lines += [f"    if (r.type === '{rtp}' && r.kind === 'video') {{",
              *(f"      {x}" for x in each), "    }", "  });"]
    if port:
        lines += [f"  if (pair && cands[pair.{port}CandidateId]) "
                  f"out.port = cands[pair.{port}CandidateId].port;"]
    lines += ["  return out;", "})()"]
    return "\n".join(lines)


def sh(cmd):
    """Runs a shell command (nft, ip); it must succeed."""
    subprocess.run(cmd, shell=True, check=True)


def nft_input(test, table):
    """A fresh nftables table `table` with a chain `in` on the input hook,
    deleted after `test` (or before, by the test). `lo` is set to
    gso_max_segs 1 first: a rule that drops one datagram of a GSO run would
    drop the whole run."""
    sh("ip link set lo gso_max_segs 1")
    subprocess.run(f"nft delete table inet {table} 2>/dev/null", shell=True)
    sh(f"nft add table inet {table}")
    test.addCleanup(subprocess.run, f"nft delete table inet {table} 2>/dev/null", shell=True)
    sh(f"nft add chain inet {table} in '{{ type filter hook input priority 0; }}'")


def random_loss(one_in, rtp_only=False):
    """An nftables match for one datagram in `one_in` at random; with
    `rtp_only`, of SRTP/SRTCP only (first byte 128..191, RFC 7983: STUN
    and DTLS pass)."""
    return ("@th,64,2 2 " if rtp_only else "") + f"numgen random mod {one_in} == 0"


def drop_udp_to(test, table, port, match):
    """Drops the UDP datagrams to `port` that nftables `match` selects (a
    random_loss() or a policer, "limit rate over ..."), in a table of its
    own (nft_input) until `test` ends or the table is deleted."""
    nft_input(test, table)
    sh(f"nft add rule inet {table} in udp dport {port} {match} drop")


def replay_events(relay):
    """Every event `relay` still holds (events.subscribe since 0), in order."""
    with relay.unix() as c:
        assert "result" in c.call("events.subscribe", {"since": 0})
        c.s.settimeout(1.0)
        out = []
        try:
            while True:
                msg = c.read_line()
                if "method" in msg:
                    out.append(msg)
        except (socket.timeout, TimeoutError):
            return out


def states(events, peer, transport):
    """The states of `peer`'s `transport` ("publish", "subscribe") that the
    peer.state events of `events` report, in order."""
    return [e["params"].get("state") for e in events
            if e["method"] == "peer.state" and e["params"]["peer"] == peer
            and e["params"]["transport"] == transport]


def transports_open(test, ctl, n):
    """The workers' transport counts once they add up to `n` (the load
    snapshots stats.get reads are up to a second old)."""
    deadline = time.monotonic() + 10
    while True:
        counts = [w["transports"] for w in ctl.call("stats.get")["result"]["workers"]]
        if sum(counts) == n:
            return counts
        test.assertLess(time.monotonic(), deadline, f"transports per worker: {counts}")
        time.sleep(0.2)


def relay_rtx(ctl):
    """The relay-wide rtx counters of stats.get (snapshots are at most ~1 s
    old: waits 1.5 s first)."""
    time.sleep(1.5)
    return ctl.call("stats.get")["result"]["rtx"]
