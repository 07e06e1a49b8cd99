/* prism-bench run --threads N: the bench's loop threads ("shards").
 *
 * One bench thread runs out of CPU before a relay that has a core of its
 * own (docs/performance.md, "--ramp"). With N > 1 the endpoints are dealt
 * round-robin in join order to N shard threads; endpoint i belongs to
 * shard i % N from the moment it is handed over to its end. A shard owns a
 * uv loop (its endpoints' libnice agents live on that loop's GMainContext,
 * DESIGN.md "Traps"), an egress pool, a control connection for its
 * endpoints' requests, an events connection (peer.offer for its own
 * endpoints; it ignores the others'), a pacer and the egress flush. The
 * DTLS context is the run's, shared: it is immutable once made.
 *
 * The main thread keeps the run (bench/scenario.c): setup (tenant,
 * bubbles), the joins' schedule, the 1 s sampler, the ramp, the relay's
 * counters, teardown. It allocates the endpoints (nothing else: no I/O)
 * and does not touch them again until the shard threads have ended, when
 * it reads and frees them for the report.
 *
 * Main -> shard: commands under the shard's mutex, woken by uv_async: take
 * the endpoints created up to index k, join those below j, stop sending,
 * answer snapshot request s, leave. Shard -> main: its setup result, the
 * snapshot (totals, merged delay histogram, streams flowing, pacer
 * lateness) and "done" under the same mutex, then a uv_async_send of the
 * run's wake handle. Nothing is shared on the per-packet path: each
 * shard's receivers and histograms are its own, merged by the main thread
 * from the snapshots once a second.
 *
 * Thread: every prism__shards_* function runs on the main thread.
 */
#ifndef PRISM_BENCH_SHARD_H
#define PRISM_BENCH_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <jansson.h>
#include <uv.h>

#include "bench/endpoint.h"
#include "bench/media.h"
#include "relay/base/counters.h"

#define PRISM_BENCH_MAX_THREADS 64

struct prism__run;
struct prism__run_totals;
struct prism__shards;

/* Creates `n` shards for `r` (r->site.dtls_ctx and fingerprint made, r->o
 * parsed, r->eps allocated with room for every endpoint), each with its
 * loop, egress and both control connections to r->o.control, and starts
 * their threads; each subscribes to the tenant's events and reports its
 * setup through `wake` (the main loop's uv_async). Returns 0 and sets *out,
 * or a negative code (a loop, pool, connection or thread could not be
 * made; nothing is left running). */
int prism__shards_start(struct prism__run *r, unsigned n, uv_async_t *wake,
                        struct prism__shards **out);

/* A peer.offer event (`method` and `params` as the events connection gives
 * them) for the endpoint named "bubble/peer" in `by_name`: it answers.
 * Other events, and offers for endpoints not in `by_name`, are ignored.
 * On the thread that owns the endpoints of `by_name`. */
void prism__offer_event(GHashTable *by_name, const char *method, json_t *params);

/* The site endpoint `index` belongs to (its shard's). */
struct prism_bench_site *prism__shards_site(struct prism__shards *s, size_t index);

/* 1 when every shard's setup succeeded, -1 when one failed (its reason on
 * stderr), 0 while one is pending. */
int prism__shards_setup(struct prism__shards *s);

/* Hands r->eps[0, created) over to their shards (those not handed yet) and
 * has them join every endpoint below `join_upto` not joined yet. */
void prism__shards_take(struct prism__shards *s, size_t created, size_t join_upto);

/* Every shard stops its senders (receiving goes on). */
void prism__shards_stop_sending(struct prism__shards *s);

/* Asks every shard for a snapshot; prism__shards_snapshot_done tells when
 * all have answered. */
void prism__shards_snapshot(struct prism__shards *s);

/* When every shard answered the last request: true, with their totals
 * summed into `t`, their delay histograms merged into `delay` (both
 * overwritten), the streams flowing summed and the worst pacer lateness
 * since the previous snapshot; false (nothing written) while one has not. */
bool prism__shards_snapshot_done(struct prism__shards *s, struct prism__run_totals *t,
                                 struct prism_bench_hist *delay, size_t *flowing, double *lag_ms);

/* Every shard sums its transports' counters, leaves (peer.leave, transports
 * closed), closes its connections and ends its thread. */
void prism__shards_leave(struct prism__shards *s);

/* True once every shard has ended; then `sum` has their transports'
 * counters summed (taken before leaving). */
bool prism__shards_done(struct prism__shards *s, struct prism_media_counters *sum);

/* Joins the threads (after prism__shards_done, or to abandon a run whose
 * setup failed: asks the shards to leave first) and frees the shards.
 * Accepts NULL. */
void prism__shards_free(struct prism__shards *s);

#endif
