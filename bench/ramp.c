/* prism-bench run --ramp: the course of a ramp, per-step figures and the
 * capacity (see ramp.h). */
#include "bench/ramp.h"

#include <stdio.h>
#include <string.h>

#define RAMP_SETTLE_S 2.0        /* after a step's joins, before its window opens */
#define RAMP_JOIN_TIMEOUT_S 20.0 /* a step's joins that take longer are not waited for */

static uint64_t delta(uint64_t a, uint64_t b)
{
    return b > a ? b - a : 0;
}

void prism_bench_hist_diff(struct prism_bench_hist *out, const struct prism_bench_hist *a,
                           const struct prism_bench_hist *b)
{
    out->n = 0;
    for (size_t i = 0; i < PRISM_BENCH_HIST_N; i++) {
        out->b[i] = b->b[i] > a->b[i] ? b->b[i] - a->b[i] : 0;
        out->n += out->b[i];
    }
}

static double max_p99(const struct prism_bench_ramp_step *s)
{
    return s->max_p99_ms > 0 ? s->max_p99_ms : PRISM_BENCH_RAMP_MAX_P99_MS;
}

void prism_bench_ramp_close(struct prism_bench_ramp_step *step,
                            const struct prism_bench_ramp_mark *a,
                            const struct prism_bench_ramp_mark *b)
{
    /* 8 KiB: static rather than on the loop's stack; one bench thread. */
    static struct prism_bench_hist d;
    double win = b->t - a->t > 0 ? b->t - a->t : 1;
    step->t_open = a->t;
    step->t_close = b->t;
    step->sample_open = a->sample;
    step->sample_close = b->sample;
    uint64_t lost = delta(a->lost, b->lost), expected = delta(a->expected, b->expected);
    uint64_t rx = delta(a->rx_packets, b->rx_packets);
    step->loss_pct = expected ? 100.0 * (double)lost / (double)expected : 0;
    prism_bench_hist_diff(&d, &a->delay, &b->delay);
    step->delay_p50_ms = prism_bench_hist_quantile_ms(&d, 0.5);
    step->delay_p99_ms = prism_bench_hist_quantile_ms(&d, 0.99);
    step->rx_pps = (double)rx / win;
    double relay_cpu = b->relay_cpu_s - a->relay_cpu_s;
    step->relay_cpu_pct = 100.0 * relay_cpu / win;
    step->bench_cpu_pct = 100.0 * (b->bench_cpu_s - a->bench_cpu_s) / win;
    step->relay_cpu_us_per_packet = rx ? relay_cpu * 1e6 / (double)rx : 0;
    step->decode_errors = delta(a->decode_errors, b->decode_errors);

    step->pass = false;
    if (rx == 0)
        snprintf(step->why, sizeof(step->why), "no media in the window");
    else if (step->loss_pct > PRISM_BENCH_RAMP_MAX_LOSS_PCT)
        snprintf(step->why, sizeof(step->why), "loss %.2f %% > %.0f %%", step->loss_pct,
                 PRISM_BENCH_RAMP_MAX_LOSS_PCT);
    else if (step->delay_p99_ms > max_p99(step))
        snprintf(step->why, sizeof(step->why), "delay p99 %.1f ms > %.0f ms", step->delay_p99_ms,
                 max_p99(step));
    else if (step->peers_failed > 0)
        snprintf(step->why, sizeof(step->why), "%zu peers failed to join", step->peers_failed);
    else {
        step->pass = true;
        step->why[0] = '\0';
    }
}

long prism_bench_ramp_capacity(const struct prism_bench_ramp_step *steps, size_t n)
{
    long cap = -1;
    for (size_t i = 0; i < n && steps[i].pass; i++)
        cap = (long)i;
    return cap;
}

static json_t *step_json(const struct prism_bench_ramp_step *s)
{
    json_t *o = json_pack(
        "{s:i, s:i, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f,"
        " s:f, s:f, s:I, s:b}",
        "peers", (int)s->peers, "bubbles", (int)s->bubbles, "peers_ready",
        (json_int_t)s->peers_ready, "peers_failed", (json_int_t)s->peers_failed, "streams_expected",
        (json_int_t)s->streams_expected, "streams_flowing", (json_int_t)s->streams_flowing,
        "t_start", s->t_start, "t_open", s->t_open, "t_close", s->t_close, "loss_pct", s->loss_pct,
        "delay_p50_ms", s->delay_p50_ms, "delay_p99_ms", s->delay_p99_ms, "packets_forwarded_per_s",
        s->relay_out_pps, "packets_in_per_s", s->relay_in_pps, "bench_rx_packets_per_s", s->rx_pps,
        "relay_cpu_pct", s->relay_cpu_pct, "relay_cpu_us_per_packet", s->relay_cpu_us_per_packet,
        "bench_cpu_pct", s->bench_cpu_pct, "bench_worst_lag_ms", s->worst_lag_ms, "decode_errors",
        (json_int_t)s->decode_errors, "pass", s->pass);
    json_object_set_new(o, "windows", json_integer(s->windows));
    json_object_set_new(o, "why", s->pass ? json_null() : json_string(s->why));
    return o;
}

json_t *prism_bench_ramp_json(const struct prism_bench_ramp_step *steps, size_t n, const char *stop)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, step_json(&steps[i]));
    long cap = prism_bench_ramp_capacity(steps, n);
    json_t *o = json_pack("{s:f, s:f, s:s}", "max_loss_pct", PRISM_BENCH_RAMP_MAX_LOSS_PCT,
                          "max_delay_p99_ms",
                          n > 0 ? max_p99(&steps[0]) : PRISM_BENCH_RAMP_MAX_P99_MS, "stop", stop);
    json_object_set_new(o, "steps", arr);
    json_object_set_new(o, "capacity", cap >= 0 ? step_json(&steps[cap]) : json_null());
    return o;
}

void prism_bench_ramp_print(const struct prism_bench_ramp_step *steps, size_t n, const char *stop)
{
    printf("\nramp (window figures per step; stops at loss > %.0f %% or delay p99 > %.0f ms)\n",
           PRISM_BENCH_RAMP_MAX_LOSS_PCT, n > 0 ? max_p99(&steps[0]) : PRISM_BENCH_RAMP_MAX_P99_MS);
    printf("  %5s %7s %8s %9s %9s %7s %7s %7s %6s %7s %6s  %s\n", "peers", "bubbles", "streams",
           "fwd pps", "rx pps", "loss %", "p50 ms", "p99 ms", "relay%", "us/pkt", "bench%",
           "verdict");
    for (size_t i = 0; i < n; i++) {
        const struct prism_bench_ramp_step *s = &steps[i];
        printf("  %5u %7u %4zu/%-4zu %9.0f %9.0f %7.2f %7.2f %7.2f %6.0f %7.2f %6.0f  %s\n",
               s->peers, s->bubbles, s->streams_flowing, s->streams_expected, s->relay_out_pps,
               s->rx_pps, s->loss_pct, s->delay_p50_ms, s->delay_p99_ms, s->relay_cpu_pct,
               s->relay_cpu_us_per_packet, s->bench_cpu_pct,
               s->pass ? (s->windows > 1 ? "pass (measured again)" : "pass") : s->why);
    }
    long cap = prism_bench_ramp_capacity(steps, n);
    if (cap < 0) {
        printf("  capacity: not reached at the first step (%s)\n", stop);
        return;
    }
    const struct prism_bench_ramp_step *c = &steps[cap];
    printf("  capacity: %u peers, %zu streams, %.0f packets/s forwarded, relay CPU %.0f %% "
           "(%.2f us/packet), bench CPU %.0f %% (%s)\n",
           c->peers, c->streams_flowing, c->relay_out_pps, c->relay_cpu_pct,
           c->relay_cpu_us_per_packet, c->bench_cpu_pct, stop);
}

/* --- the course of a ramp ------------------------------------------------------------- */

static void mark(const struct prism_bench_ramp_now *now, struct prism_bench_ramp_mark *m)
{
    m->t = now->t;
    m->sample = now->sample;
    m->relay_cpu_s = now->relay_cpu_s;
    m->bench_cpu_s = now->bench_cpu_s;
    m->rx_packets = now->rx_packets;
    m->lost = now->lost;
    m->expected = now->expected;
    m->decode_errors = now->decode_errors;
    m->delay = *now->delay;
}

void prism_bench_ramp_begin_step(struct prism_bench_ramp *ramp, unsigned peers, unsigned bubbles,
                                 double t_start)
{
    struct prism_bench_ramp_step *st = &ramp->steps[ramp->n_steps++];
    st->peers = peers;
    st->bubbles = bubbles;
    st->t_start = t_start;
    st->max_p99_ms = ramp->max_p99_ms;
    ramp->state = PRISM_BENCH_RAMP_JOINING;
    ramp->tried = 0;
}

void prism_bench_ramp_stop(struct prism_bench_ramp *ramp, const char *why)
{
    ramp->state = PRISM_BENCH_RAMP_DONE;
    snprintf(ramp->stop, sizeof(ramp->stop), "%s", why);
}

/* The window closed: the step's figures, its verdict, what comes next. */
static enum prism_bench_ramp_action judge(struct prism_bench_ramp *ramp,
                                          const struct prism_bench_ramp_now *now)
{
    struct prism_bench_ramp_step *st = &ramp->steps[ramp->n_steps - 1];
    mark(now, &ramp->close);
    st->peers_ready = now->peers_ready;
    st->peers_failed = now->peers_failed + (now->peers - now->peers_ready - now->peers_failed);
    st->streams_expected = now->streams_expected;
    st->streams_flowing = now->streams_flowing;
    prism_bench_ramp_close(st, &ramp->open, &ramp->close);
    st->windows = ramp->tried + 1;
    if (ramp->log != NULL)
        fprintf(ramp->log,
                "%sramp step %zu: %u peers, %zu/%zu streams, %.0f pps delivered, loss %.2f %%, "
                "delay p99 %.2f ms, relay cpu %.0f %%, bench cpu %.0f %% -> %s\n",
                ramp->tty ? "\r" : "", ramp->n_steps, st->peers, st->streams_flowing,
                st->streams_expected, st->rx_pps, st->loss_pct, st->delay_p99_ms, st->relay_cpu_pct,
                st->bench_cpu_pct, st->pass ? "pass" : st->why);
    char why[256];
    if (!st->pass && ramp->tried < ramp->retries) {
        ramp->tried++;
        ramp->open = ramp->close; /* the next window opens now */
        ramp->state = PRISM_BENCH_RAMP_MEASURING;
        if (ramp->log != NULL)
            fprintf(ramp->log, "%sramp step %zu: measuring again (%u of %u)\n",
                    ramp->tty ? "\r" : "", ramp->n_steps, ramp->tried, ramp->retries);
        return PRISM_BENCH_RAMP_WAIT;
    }
    double bench_full = PRISM_BENCH_RAMP_FULL_CPU_PCT * ramp->bench_cores;
    double relay_full = PRISM_BENCH_RAMP_FULL_CPU_PCT * ramp->relay_cores;
    if (!st->pass) {
        /* Past 90 % the bench's own queues may be what the window measured. */
        bool bench_busy = ramp->bench_cores > 0 && st->bench_cpu_pct >= 90.0 * ramp->bench_cores;
        snprintf(why, sizeof(why), "step %zu (%u peers) failed: %s%s", ramp->n_steps, st->peers,
                 st->why, bench_busy ? " (the bench near a full core: it may be the limit)" : "");
        prism_bench_ramp_stop(ramp, why);
        return PRISM_BENCH_RAMP_STOP;
    }
    if (ramp->relay_cores > 0 && st->relay_cpu_pct >= relay_full) {
        snprintf(why, sizeof(why),
                 "step %zu (%u peers) passed with the relay at %.0f %% of its %u core(s): "
                 "the relay's capacity",
                 ramp->n_steps, st->peers, st->relay_cpu_pct, ramp->relay_cores);
        prism_bench_ramp_stop(ramp, why);
        return PRISM_BENCH_RAMP_STOP;
    }
    if (ramp->bench_cores > 0 && st->bench_cpu_pct >= bench_full) {
        snprintf(why, sizeof(why),
                 "step %zu (%u peers) passed with the bench at %.0f %% of its %u core(s): "
                 "the bench's limit, not the relay's",
                 ramp->n_steps, st->peers, st->bench_cpu_pct, ramp->bench_cores);
        prism_bench_ramp_stop(ramp, why);
        return PRISM_BENCH_RAMP_STOP;
    }
    if (now->peers >= ramp->max_peers) {
        snprintf(why, sizeof(why), "reached --max-peers %u without failing", ramp->max_peers);
        prism_bench_ramp_stop(ramp, why);
        return PRISM_BENCH_RAMP_STOP;
    }
    return PRISM_BENCH_RAMP_NEXT_STEP;
}

enum prism_bench_ramp_action prism_bench_ramp_on_sample(struct prism_bench_ramp *ramp,
                                                        const struct prism_bench_ramp_now *now)
{
    if (ramp->state == PRISM_BENCH_RAMP_OFF || ramp->state == PRISM_BENCH_RAMP_DONE ||
        ramp->n_steps == 0)
        return PRISM_BENCH_RAMP_WAIT;
    const struct prism_bench_ramp_step *st = &ramp->steps[ramp->n_steps - 1];
    switch (ramp->state) {
    case PRISM_BENCH_RAMP_JOINING:
        if ((now->peers_ready + now->peers_failed == now->peers && now->joins_sent) ||
            now->t - st->t_start > RAMP_JOIN_TIMEOUT_S) {
            ramp->state = PRISM_BENCH_RAMP_SETTLING;
            ramp->settle_until = now->t + RAMP_SETTLE_S;
        }
        break;
    case PRISM_BENCH_RAMP_SETTLING:
        if (now->t >= ramp->settle_until - 0.05) {
            mark(now, &ramp->open);
            ramp->state = PRISM_BENCH_RAMP_MEASURING;
        }
        break;
    case PRISM_BENCH_RAMP_MEASURING:
        if (now->t - ramp->open.t >= ramp->step_s - 0.05)
            return judge(ramp, now);
        break;
    default: break;
    }
    return PRISM_BENCH_RAMP_WAIT;
}

double prism_bench_ramp_max_step_s(double step_s, unsigned retries)
{
    return RAMP_JOIN_TIMEOUT_S + 1 + RAMP_SETTLE_S + 1 + (1.0 + retries) * (step_s + 2);
}
