// Prism demo page: join a bubble with camera and microphone, see and hear the
// others. Plain JavaScript, no build step; it talks only to the demo backend
// (server.py), which passes each call to the relay's control socket.
//
// Two RTCPeerConnections per participant (PROTOCOL.md, "Media contract"):
//  - publish (upstream): WE offer. createOffer -> POST /api/publish (the
//    relay's peer.publish) -> setRemoteDescription(answer).
//  - subscribe (downstream): the RELAY offers. POST /api/subscribe ->
//    setRemoteDescription(offer) -> createAnswer -> POST /api/answer with the
//    offer's revision. Whenever publishers come or go the relay sends a new
//    offer (event `peer.offer`) and we answer it the same way.
// ICE candidates trickle both ways: ours go to /api/candidate (null at the
// end), the relay's arrive as `peer.candidate` events. Events arrive on one
// Server-Sent Events stream (/api/events) with the bubble's roster (peer id ->
// display name: names live in the backend only).
//
// In each downstream offer a track's msid is "<publisher peer id> <track id>":
// the stream id tells whose media it is, and the roster gives the name.
//
// Automation hooks: window.prismDemo = { join(bubble, name), leave(), stats() }.
'use strict';

const $ = (id) => document.getElementById(id);
const PC_CONFIG = { iceServers: [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
let call = null; // the current call (see join), or null

class ApiError extends Error {
  // A failed backend call; `error` is the relay's error object when it came
  // from the relay ({code, message, data: {reason}}).
  constructor(status, error) {
    const e = error || {};
    const reason = (e.data && e.data.reason) || `http_${status}`;
    super(`${e.message || 'request failed'} (${reason})`);
    this.status = status;
    this.reason = reason;
    this.error = e;
  }
}

async function api(c, op, body = {}) {
  const r = await fetch(`/api/${op}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ bubble: c.bubble, peer: c.peer, token: c.token, ...body }),
  });
  const reply = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, reply.error);
  return reply;
}

// Our candidates for one transport, sent in order and only once the relay
// knows the transport (after /api/publish, or after /api/answer).
class Trickle {
  constructor(c, transport) {
    Object.assign(this, { c, transport, queue: [], open: false, chain: Promise.resolve() });
  }
  add(candidate) {
    this.queue.push(candidate);
    if (this.open) this.flush();
  }
  start() {
    this.open = true;
    this.flush();
  }
  flush() {
    for (const candidate of this.queue.splice(0)) {
      this.chain = this.chain.then(() =>
        api(this.c, 'candidate', { transport: this.transport, candidate })
          .catch((e) => console.warn(`candidate (${this.transport}):`, e.message)));
    }
  }
}

// The a=candidate value of an icecandidate event, or null at the end.
const candidateOf = (e) => (e.candidate && e.candidate.candidate) || null;

// A relay candidate (or null: end-of-candidates) for transport `which`; kept
// until that connection has the relay's description.
function addRemoteCandidate(c, which, cand) {
  const pc = which === 'publish' ? c.pub : c.sub;
  if (!pc || !pc.remoteDescription) {
    c.pendingRemote[which].push(cand);
    return;
  }
  // BUNDLE: one transport, so any m-section's mid will do; take the first.
  const mid = (/\r?\na=mid:(\S+)/.exec(pc.remoteDescription.sdp) || [])[1];
  const candidate = cand === null ? '' : cand.startsWith('candidate:') ? cand : `candidate:${cand}`;
  pc.addIceCandidate({ candidate, sdpMid: mid })
    .catch((e) => console.warn(`addIceCandidate (${which}):`, e.message));
}

function flushRemoteCandidates(c, which) {
  for (const cand of c.pendingRemote[which].splice(0)) addRemoteCandidate(c, which, cand);
}

// ---- upstream -----------------------------------------------------------

async function publish(c) {
  const pc = (c.pub = new RTCPeerConnection(PC_CONFIG));
  for (const track of c.local.getTracks()) {
    pc.addTransceiver(track, { direction: 'sendonly', streams: [c.local] });
  }
  pc.onicecandidate = (e) => c.trickle.publish.add(candidateOf(e));
  pc.onconnectionstatechange = () => showStatus(c);
  await pc.setLocalDescription(await pc.createOffer());
  const { answer } = await api(c, 'publish', { offer: pc.localDescription.sdp });
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  flushRemoteCandidates(c, 'publish');
  c.trickle.publish.start();
}

// ---- downstream ---------------------------------------------------------

// (Re)starts the downstream connection: after join, and on `resync` (the
// backend lost relay events, so an offer may have been missed).
async function subscribe(c) {
  if (c.sub) c.sub.close();
  const pc = (c.sub = new RTCPeerConnection(PC_CONFIG));
  c.trickle.subscribe = new Trickle(c, 'subscribe');
  c.pendingRemote.subscribe = [];
  pc.onicecandidate = (e) => c.trickle.subscribe.add(candidateOf(e));
  pc.onconnectionstatechange = () => showStatus(c);
  const { offer, revision } = await api(c, 'subscribe');
  await answerOffer(c, pc, offer, revision);
}

// Applies one relay offer: a new revision of the set of tracks we receive.
async function answerOffer(c, pc, offer, revision) {
  if (pc !== c.sub) return; // an offer for a connection we have replaced
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  flushRemoteCandidates(c, 'subscribe');
  await pc.setLocalDescription(await pc.createAnswer()); // recvonly: we add no tracks here
  await api(c, 'answer', { answer: pc.localDescription.sdp, revision });
  c.revision = revision;
  c.trickle.subscribe.start();
  renderTiles(c);
}

// The m-sections of an SDP: [{mid, active, publisher}], where publisher is
// the msid's stream id and active means the relay is sending it.
function sections(sdp) {
  return ('\r\n' + sdp).split(/\r?\nm=/).slice(1).map((part) => {
    const port = /^\w+ (\d+)/.exec(part)[1];
    const mid = (/\na=mid:(\S+)/.exec(part) || [])[1];
    const msid = /\na=msid:(\S+) \S+/.exec(part);
    const dir = (/\na=(sendrecv|sendonly|recvonly|inactive)\b/.exec(part) || [])[1] || 'sendrecv';
    return {
      mid,
      active: port !== '0' && (dir === 'sendonly' || dir === 'sendrecv'),
      publisher: msid && msid[1] !== '-' ? msid[1] : null,
    };
  });
}

// One tile per remote publisher with at least one live track, rebuilt from
// the negotiated downstream description: a publisher whose m-sections are
// now inactive or rejected (it left, or stopped its tracks) loses its tile.
function renderTiles(c) {
  const transceivers = new Map(c.sub.getTransceivers().map((t) => [t.mid, t]));
  const tracks = new Map(); // publisher -> [MediaStreamTrack]
  c.midToPublisher = new Map();
  for (const s of sections(c.sub.remoteDescription.sdp)) {
    if (!s.publisher) continue;
    c.midToPublisher.set(s.mid, s.publisher);
    const t = transceivers.get(s.mid);
    const receiving = t && (t.currentDirection === 'recvonly' || t.currentDirection === 'sendrecv');
    if (!s.active || !receiving) continue;
    if (!tracks.has(s.publisher)) tracks.set(s.publisher, []);
    tracks.get(s.publisher).push(t.receiver.track);
  }
  for (const [pid, tile] of c.tiles) {
    if (!tracks.has(pid)) {
      tile.remove();
      c.tiles.delete(pid);
    }
  }
  for (const [pid, list] of tracks) {
    const tile = c.tiles.get(pid) || addTile(c, pid);
    const stream = tile.querySelector('video').srcObject;
    for (const t of stream.getTracks()) if (!list.includes(t)) stream.removeTrack(t);
    for (const t of list) if (!stream.getTracks().includes(t)) stream.addTrack(t);
  }
  labelTiles(c);
}

function addTile(c, pid) {
  const tile = document.createElement('div');
  tile.className = 'tile';
  tile.dataset.peer = pid;
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.srcObject = new MediaStream();
  const label = document.createElement('span');
  label.className = 'name';
  tile.append(video, label);
  $('tiles').append(tile);
  video.play().catch(() => {}); // autoplay may wait for a user gesture
  c.tiles.set(pid, tile);
  return tile;
}

function labelTiles(c) {
  for (const [pid, tile] of c.tiles) {
    tile.querySelector('.name').textContent = c.roster.get(pid) || pid; // textContent: names are untrusted
  }
}

// ---- events from the backend --------------------------------------------

// Opens the event stream; resolves with the first roster.
function openEvents(c) {
  return new Promise((resolve, reject) => {
    const q = new URLSearchParams({ bubble: c.bubble, peer: c.peer, token: c.token });
    const es = (c.events = new EventSource(`/api/events?${q}`));
    es.onmessage = (e) => {
      const ev = JSON.parse(e.data);
      if (ev.type === 'roster') resolve();
      onEvent(c, ev);
    };
    es.onerror = () => {
      // EventSource retries by itself; CLOSED means the backend refused us.
      if (es.readyState !== EventSource.CLOSED) return;
      reject(new Error('the backend refused the event stream'));
      if (call === c) problem(c, 'lost the event stream');
    };
  });
}

function onEvent(c, ev) {
  switch (ev.type) {
    case 'roster': // [{peer, name}]: everyone in the bubble, us included
      c.roster = new Map(ev.peers.map((p) => [p.peer, p.name]));
      labelTiles(c);
      showStatus(c);
      break;
    case 'peer.offer': // a new downstream revision: answer it after the previous one
      c.subChain = c.subChain
        .then(() => answerOffer(c, c.sub, ev.offer, ev.revision))
        .catch((e) => problem(c, `receiving: ${e.message}`));
      break;
    case 'peer.candidate':
      addRemoteCandidate(c, ev.transport, ev.candidate);
      break;
    case 'peer.state': // connecting / connected / failed / closed, per transport
      if (ev.state === 'failed') problem(c, `${ev.transport} failed${ev.reason ? ': ' + ev.reason : ''}`);
      break;
    case 'bubble.speaker':
      for (const [pid, tile] of c.tiles) tile.classList.toggle('speaking', pid === ev.peer);
      break;
    case 'resync':
      c.subChain = c.subChain.then(() => subscribe(c)).catch((e) => problem(c, `receiving: ${e.message}`));
      break;
    case 'closed': // the backend ended our membership
      if (call === c) {
        call = null;
        teardown(c);
        status(`Left the bubble: ${ev.reason}.`, ev.reason !== 'left');
      }
      break;
  }
}

// ---- status line ----------------------------------------------------------

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
}

function problem(c, text) {
  c.problems.push(text);
  showStatus(c);
}

function showStatus(c) {
  if (call !== c || !c.peer) return;
  const parts = [`In "${c.bubble}" as ${c.name}`, `${c.roster.size} in the bubble`];
  if (c.pub) parts.push(`sending: ${c.pub.connectionState}`);
  if (c.sub) parts.push(`receiving: ${c.sub.connectionState}`);
  status([...parts, ...c.problems].join(' · '), c.problems.length > 0);
}

// ---- join / leave / stats -------------------------------------------------

// Joins `bubble` as `name`. Resolves with {peer, publish, subscribe}, where
// publish and subscribe are {ok: true} or {ok: false, status, reason,
// message}: a relay that refuses to publish (say `forbidden`, or
// `unsupported`) still lets us watch the others. Rejects if we could not
// join at all.
async function join(bubble, name) {
  if (call) await leave();
  const c = (call = {
    bubble, name, peer: null, token: null, local: null, pub: null, sub: null, events: null,
    roster: new Map(), tiles: new Map(), midToPublisher: new Map(), problems: [],
    pendingRemote: { publish: [], subscribe: [] }, subChain: Promise.resolve(), revision: null,
  });
  c.trickle = { publish: new Trickle(c, 'publish'), subscribe: new Trickle(c, 'subscribe') };
  $('join').disabled = true;
  $('leave').disabled = false;
  try {
    status('Starting camera and microphone…');
    c.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    $('local').querySelector('video').srcObject = c.local;
    $('local').hidden = false;
    status(`Joining "${bubble}"…`);
    Object.assign(c, await api(c, 'join', { name })); // {peer, token}
    await openEvents(c);
  } catch (e) {
    if (call === c) {
      call = null;
      teardown(c);
    }
    status(`Could not join: ${e.message}`, true);
    throw e;
  }
  const outcome = (p) => p.then(
    () => ({ ok: true }),
    (e) => ({ ok: false, status: e.status, reason: e.reason, message: e.message }));
  const result = { peer: c.peer };
  result.publish = await outcome(publish(c));
  if (!result.publish.ok) problem(c, `sending failed: ${result.publish.message}`);
  c.subChain = subscribe(c);
  result.subscribe = await outcome(c.subChain);
  if (!result.subscribe.ok) problem(c, `receiving failed: ${result.subscribe.message}`);
  c.subChain = c.subChain.catch(() => {});
  showStatus(c);
  return result;
}

async function leave() {
  const c = call;
  if (!c) return;
  call = null;
  if (c.peer) await api(c, 'leave').catch((e) => console.warn('leave:', e.message));
  teardown(c);
  status('Not in a bubble.');
}

function teardown(c) {
  if (c.events) c.events.close();
  if (c.pub) c.pub.close();
  if (c.sub) c.sub.close();
  if (c.local) c.local.getTracks().forEach((t) => t.stop());
  for (const tile of c.tiles.values()) tile.remove();
  c.tiles.clear();
  $('local').hidden = true;
  $('join').disabled = false;
  $('leave').disabled = true;
}

// Per remote publisher {framesDecoded, audioPacketsReceived}, summed over
// the inbound-rtp streams of the subscribe connection, keyed by publisher
// peer id (the msid stream id of the stream's m-section); `shown` lists the
// publishers that have a tile now.
async function stats() {
  const c = call;
  const out = { peer: c ? c.peer : null, shown: [], publishers: {}, roster: [], revision: null };
  if (!c) return out;
  Object.assign(out, {
    shown: [...c.tiles.keys()],
    roster: [...c.roster].map(([peer, name]) => ({ peer, name })),
    revision: c.revision,
    sending: c.pub && c.pub.connectionState,
    receiving: c.sub && c.sub.connectionState,
  });
  if (!c.sub) return out;
  const byTrack = new Map();
  for (const t of c.sub.getTransceivers()) {
    const pid = c.midToPublisher.get(t.mid);
    if (pid) byTrack.set(t.receiver.track.id, pid);
  }
  (await c.sub.getStats()).forEach((r) => {
    if (r.type !== 'inbound-rtp') return;
    const pid = c.midToPublisher.get(r.mid) || byTrack.get(r.trackIdentifier);
    if (!pid) return;
    const s = (out.publishers[pid] ||= { framesDecoded: 0, audioPacketsReceived: 0 });
    if (r.kind === 'video') s.framesDecoded += r.framesDecoded || 0;
    if (r.kind === 'audio') s.audioPacketsReceived += r.packetsReceived || 0;
  });
  return out;
}

window.prismDemo = { join, leave, stats };

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  join($('bubble').value.trim(), $('name').value.trim()).catch(() => {}); // shown in the status line
});
$('leave').addEventListener('click', () => leave());
// A closing tab leaves at once (the backend would otherwise wait GRACE_S).
window.addEventListener('pagehide', () => {
  if (call && call.peer) {
    navigator.sendBeacon('/api/leave', JSON.stringify({ bubble: call.bubble, peer: call.peer, token: call.token }));
  }
});
