/* Drives one GLib main context from a libuv loop (worker threads only).
 *
 * A struct prism_gmain_uv owns one small GMainContext, acquired for good by
 * the thread that runs the uv loop, and mirrors the context's poll set into
 * libuv: one uv_poll_t per GLib fd plus one uv_timer_t for GLib's timeout.
 * Whenever one of them fires, it runs one GLib cycle for this context only:
 * check + dispatch, then prepare + query, then re-syncs the uv handles. Idle
 * contexts cost nothing per loop iteration (no uv_prepare_t/uv_check_t per
 * context): a worker with 1,000 agents does work only for the ones that woke.
 *
 * Thread: everything here runs on the uv loop's thread, which owns the
 * context (g_main_context_acquire), so GLib sources attached to it - libnice
 * sockets and timers - dispatch on that thread.
 *
 * Invariants:
 * - Between two cycles, every fd GLib asked for has exactly one uv_poll_t
 *   with the same events, and the timer is armed with GLib's timeout.
 * - After code outside a dispatch touches objects attached to the context
 *   (libnice control calls), prism_gmain_uv_wake() must run, or new sources
 *   and timeouts wait for the next fd event.
 * - GLib may close an fd and reuse its number under a uv_poll_t. The set is
 *   compared after every cycle, and prism_gmain_uv_wake() re-registers every
 *   fd with the kernel (control calls are where libnice opens sockets).
 */
#ifndef PRISM_RELAY_GMAIN_UV_H
#define PRISM_RELAY_GMAIN_UV_H

#include <stddef.h>

#include <glib.h>
#include <uv.h>

struct prism_gmain_uv;

/* Creates a GMainContext acquired by the calling thread, which must be the
 * thread running `loop`. On success *out is set and 0 returned; the handles
 * keep `loop` alive until prism_gmain_uv_close().
 * Returns PRISM_ENOMEM, or PRISM_EINTERNAL if the context cannot be acquired. */
int prism_gmain_uv_new(uv_loop_t *loop, struct prism_gmain_uv **out);

/* The driven context (never NULL; owned by `d`, add a ref to keep it). */
GMainContext *prism_gmain_uv_context(const struct prism_gmain_uv *d);

/* Re-runs prepare + query and re-registers every fd: call after any call
 * into an object attached to the context made outside its dispatch. O(fds)
 * plus one epoll_ctl per fd. No-op when called from inside a dispatch of
 * this context (the cycle re-prepares anyway) or after close. */
void prism_gmain_uv_wake(struct prism_gmain_uv *d);

/* Number of fds the context polls (GLib's wake-up eventfd included), as of
 * the last prepare. O(1). */
size_t prism_gmain_uv_fd_count(const struct prism_gmain_uv *d);

/* Stops watching at once and closes the uv handles. When the last one is
 * closed (a later loop phase, never inside this call), `cb(ud)` runs with the
 * context still acquired - the place to drop objects attached to it - then
 * the context is released and unreferenced and `d` is freed. `cb` may be
 * NULL. Safe from inside a dispatch of this context. Accepts d == NULL (then
 * `cb` is not called). Must be called at most once. */
void prism_gmain_uv_close(struct prism_gmain_uv *d, void (*cb)(void *ud), void *ud);

#endif
