"""RFC 5389 binding requests by hand, for tests that probe the relay's
ICE-lite media ports from outside any ICE stack."""
import binascii
import hashlib
import hmac
import os
import socket
import struct
import time

MAGIC = 0x2112A442
SUCCESS = 0x0101


def attr(t, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", t, len(value)) + value + b"\0" * pad


def request(username, key, integrity=True, controlling=True, use_candidate=False):
    """A binding request: USERNAME, PRIORITY, ICE-CONTROLL(ED|ING),
    USE-CANDIDATE if asked, MESSAGE-INTEGRITY (HMAC-SHA1 under `key`) if
    asked, FINGERPRINT. Returns (bytes, transaction id)."""
    txid = os.urandom(12)
    attrs = attr(0x0006, username.encode())
    attrs += attr(0x0024, struct.pack("!I", 1853824767))
    attrs += attr(0x802A if controlling else 0x8029, os.urandom(8))
    if use_candidate:
        attrs += attr(0x0025, b"")

    def header(length):
        return struct.pack("!HHI", 0x0001, length, MAGIC) + txid
    msg = attrs
    if integrity:
        # The length covers MESSAGE-INTEGRITY itself (RFC 5389 15.4).
        mac = hmac.new(key, header(len(msg) + 24) + msg, hashlib.sha1).digest()
        msg += attr(0x0008, mac)
    crc = binascii.crc32(header(len(msg) + 8) + msg) ^ 0x5354554E
    msg += attr(0x8028, struct.pack("!I", crc & 0xFFFFFFFF))
    return header(len(msg)) + msg, txid


def received(sock, seconds):
    """Every datagram `sock` receives within `seconds`."""
    got = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, _ = sock.recvfrom(4096)
        except (socket.timeout, BlockingIOError):
            break
        got.append(data)
    return got


def responses(sock, txids, seconds):
    """{txid: message type} of responses to `txids` within `seconds`."""
    return {d[8:20]: struct.unpack("!H", d[:2])[0] for d in received(sock, seconds)
            if len(d) >= 20 and d[8:20] in txids}
