/* RFC 4571 framing for ICE-TCP (RFC 6544 §3): on a TCP connection every
 * STUN, DTLS and SRTP packet is preceded by its length as a 16-bit
 * big-endian number. This file reads that stream back into packets.
 *
 * Owns: struct prism_tcp_deframer, one per connection (caller-owned
 * storage): a fixed read buffer of PRISM_TCP_RBUF_BYTES and two offsets.
 * Pure: no I/O, no allocation, no clock; the connection code reads the
 * socket into prism_tcp_deframer_space() and takes frames out with
 * prism_tcp_deframer_next(). Thread: the caller's.
 *
 * Bounds: a frame longer than PRISM_TCP_FRAME_MAX is refused (the peer is
 * not speaking RFC 4571, or is not one of ours: the connection is closed),
 * so a connection never holds more than PRISM_TCP_RBUF_BYTES however it
 * sends. A frame of length 0 carries nothing and is reported as such (the
 * caller counts and skips it). Frames handed out point into the buffer,
 * may be modified in place (SRTP is decrypted there) and stay valid until
 * the next prism_tcp_deframer_next() or _space().
 *
 * Alignment: a frame is handed out PRISM_TCP_FRAME_ALIGN-aligned, as a UDP
 * datagram is at the start of its receive buffer (libsrtp reads the RTP
 * header as 32-bit words). On the stream a frame starts wherever the one
 * before ended, so one that is not aligned is moved back, over its own
 * length and at most 6 bytes of frames already handed out.
 *
 * Cost: per read, one memmove of the bytes of an incomplete frame left at
 * the end of the buffer (at most one frame); per frame, a memmove of it
 * when it is not aligned (in cache, just read).
 */
#ifndef PRISM_RELAY_TCP_FRAME_H
#define PRISM_RELAY_TCP_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Largest frame accepted, in bytes. STUN checks are ~100-200 bytes,
 * browsers cut DTLS flights and keep SRTP under ~1,250; the margin keeps a
 * large DTLS record (a long certificate chain) working. */
#define PRISM_TCP_FRAME_MAX 4096

/* Read buffer: room for one whole largest frame and its length, twice, so
 * a read is never smaller than half the buffer. */
#define PRISM_TCP_RBUF_BYTES (2 * (PRISM_TCP_FRAME_MAX + 2))

/* Alignment of the frames handed out. */
#define PRISM_TCP_FRAME_ALIGN 8

struct prism_tcp_deframer {
    size_t start; /* first byte not handed out yet */
    size_t end;   /* bytes of buf filled */
    _Alignas(PRISM_TCP_FRAME_ALIGN) uint8_t buf[PRISM_TCP_RBUF_BYTES]; /* stream bytes
                                                                          [start, end) pending */
};

/* What prism_tcp_deframer_next() found. */
enum prism_tcp_frame_result {
    PRISM_TCP_FRAME,    /* a frame: *frame (aligned), *len (1..PRISM_TCP_FRAME_MAX) */
    PRISM_TCP_EMPTY,    /* a frame of length 0, consumed */
    PRISM_TCP_MORE,     /* no whole frame buffered: read more */
    PRISM_TCP_TOO_LONG, /* the next length exceeds PRISM_TCP_FRAME_MAX: close */
};

/* Empties `d`. */
void prism_tcp_deframer_init(struct prism_tcp_deframer *d);

/* Moves the pending bytes to the front and returns where the next read
 * goes; *room is how many bytes it may write there (never 0 after init:
 * pending bytes are always less than one frame plus its length). Frames
 * handed out before are invalid afterwards. */
uint8_t *prism_tcp_deframer_space(struct prism_tcp_deframer *d, size_t *room);

/* Records that `n` bytes (at most the last *room) were read into the space. */
void prism_tcp_deframer_commit(struct prism_tcp_deframer *d, size_t n);

/* Takes the next frame out of the buffered bytes (see the enum). */
enum prism_tcp_frame_result prism_tcp_deframer_next(struct prism_tcp_deframer *d, uint8_t **frame,
                                                    size_t *len);

/* Writes the 2-byte RFC 4571 length of a `len`-byte frame (len <= 65535). */
static inline void prism_tcp_frame_header(uint8_t hdr[2], size_t len)
{
    hdr[0] = (uint8_t)(len >> 8);
    hdr[1] = (uint8_t)len;
}

#endif
