/* `prismctl top`'s I/O (see prismctl_top.h): polling, events, the terminal.
 *
 * One connection carries everything. First events.subscribe with since 0,
 * so the held backlog names the bubbles that had media (the protocol has no
 * listing method: peer.state and peer.offer events carry tenant and bubble);
 * bubble.speaker events give each bubble's speaker. Then
 * once per interval one pipelined round of requests -- relay.info, the
 * relay-wide stats.get, stats.get per known tenant and per known bubble --
 * makes a snapshot, and the view renders it against the previous one. A
 * bubble or tenant learnt from events that answers not_found is forgotten;
 * those named on the command line (--tenant, --bubble) are kept and polled.
 *
 * On a terminal: the alternate screen, the cursor hidden, each frame painted
 * from the top-left with plain ANSI escapes, `q` quits (stdin without
 * echo/canonical mode); all restored on the way out. Otherwise: plain
 * frames, one after another, separated by a blank line.
 *
 * Cost to the relay: 2 + tenants + bubbles requests per interval, answered
 * from the control thread's registry.
 */
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "relay/base/error.h"
#include "signaling/prismctl_top.h"

#define REPLY_TIMEOUT_MS 10000
#define ID_SUBSCRIBE 1

struct top {
    struct prism_ctl_conn *conn;
    json_t *bubbles;      /* "TENANT/BUBBLE" -> {"pinned":bool, "speaker":"PEER"?}; owned */
    json_t *tenants;      /* "TENANT" -> {"pinned":bool}; owned */
    json_int_t next_id;   /* ids of snapshot requests; 1 is the subscription */
    bool tty;             /* painting a terminal */
    bool raw_stdin;       /* stdin's termios changed; `saved` restores it */
    struct termios saved; /* stdin's settings before top changed them */
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int signum)
{
    (void)signum;
    stop_requested = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void know(json_t *set, const char *key, bool pinned)
{
    json_t *entry = json_object_get(set, key);
    if (entry == NULL)
        json_object_set_new(set, key, json_pack("{s:b}", "pinned", pinned));
    else if (pinned)
        json_object_set_new(entry, "pinned", json_true());
}

/* Events name the bubbles (and tenants) to watch, and the speaker. */
static void on_event(json_t *ev, void *arg)
{
    struct top *top = arg;
    json_t *params = json_object_get(ev, "params");
    const char *tenant = json_string_value(json_object_get(params, "tenant"));
    const char *bubble = json_string_value(json_object_get(params, "bubble"));
    if (tenant == NULL || bubble == NULL)
        return;
    char key[160];
    snprintf(key, sizeof(key), "%s/%s", tenant, bubble);
    know(top->tenants, tenant, false);
    know(top->bubbles, key, false);
    const char *method = json_string_value(json_object_get(ev, "method"));
    const char *peer = json_string_value(json_object_get(params, "peer"));
    if (method != NULL && strcmp(method, "bubble.speaker") == 0 && peer != NULL)
        json_object_set_new(json_object_get(top->bubbles, key), "speaker", json_string(peer));
}

/* Reads lines until the reply with `id` (events go to on_event). Returns 0
 * with *reply (new reference), or PRISM_EIO. */
static int await_reply(struct top *top, json_int_t id, json_t **reply)
{
    for (;;) {
        json_t *msg;
        int rc = prism_ctl_conn_recv(top->conn, REPLY_TIMEOUT_MS, &msg);
        if (rc == 0)
            fprintf(stderr, "prismctl: no reply from the relay within %d s\n",
                    REPLY_TIMEOUT_MS / 1000);
        if (rc != 1)
            return PRISM_EIO;
        json_t *mid = json_object_get(msg, "id");
        if (json_object_get(msg, "method") != NULL) {
            on_event(msg, top);
        } else if (json_is_integer(mid) && json_integer_value(mid) == id) {
            *reply = msg;
            return 0;
        } else if (json_is_null(mid) && json_object_get(msg, "error") != NULL) {
            char *s = json_dumps(json_object_get(msg, "error"), JSON_COMPACT);
            fprintf(stderr, "prismctl: the relay refused: %s\n", s != NULL ? s : "?");
            free(s);
            json_decref(msg);
            return PRISM_EIO;
        }
        json_decref(msg);
    }
}

static const char *reason_of(const json_t *reply)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(reply, "error"), "data"), "reason"));
}

/* events.subscribe since 0 replays the backlog; when its start is no longer
 * held (not_found), live events only. */
static int subscribe(struct top *top)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        json_t *params = attempt == 0 ? json_pack("{s:i}", "since", 0) : NULL;
        int rc = prism_ctl_conn_request(top->conn, ID_SUBSCRIBE, "events.subscribe", params);
        json_decref(params);
        json_t *reply = NULL;
        if (rc == 0)
            rc = await_reply(top, ID_SUBSCRIBE, &reply);
        if (rc != 0)
            return rc;
        bool ok = json_object_get(reply, "result") != NULL;
        const char *why = reason_of(reply);
        bool retry = !ok && why != NULL && strcmp(why, "not_found") == 0;
        json_decref(reply);
        if (ok) {
            /* The replay follows the reply; the reply to one more request
             * follows the replay: then the first snapshot knows its bubbles. */
            json_int_t id = top->next_id++;
            rc = prism_ctl_conn_request(top->conn, id, "relay.info", NULL);
            if (rc == 0)
                rc = await_reply(top, id, &reply);
            if (rc == 0)
                json_decref(reply);
            return rc;
        }
        if (!retry)
            break;
    }
    fprintf(stderr, "prismctl: events.subscribe failed; bubbles are shown only with --bubble\n");
    return 0;
}

/* Sends stats.get for one tenant or TENANT/BUBBLE key. */
static int ask_stats(struct top *top, json_int_t id, const char *key, bool bubble)
{
    char tenant[80];
    const char *slash = bubble ? strchr(key, '/') : NULL;
    size_t tlen = slash != NULL ? (size_t)(slash - key) : strlen(key);
    if (tlen >= sizeof(tenant))
        tlen = sizeof(tenant) - 1;
    memcpy(tenant, key, tlen);
    tenant[tlen] = '\0';
    json_t *params = slash != NULL ? json_pack("{s:s, s:s}", "tenant", tenant, "bubble", slash + 1)
                                   : json_pack("{s:s}", "tenant", tenant);
    int rc = prism_ctl_conn_request(top->conn, id, "stats.get", params);
    json_decref(params);
    return rc;
}

/* One pipelined round of requests. Returns 0 with *out (new reference). */
static int take_snapshot(struct top *top, json_t **out)
{
    /* The keys are copied: replies may add bubbles (events) while we wait. */
    json_t *tenant_keys = json_array(), *bubble_keys = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(top->tenants, key, v) json_array_append_new(tenant_keys, json_string(key));
    json_object_foreach(top->bubbles, key, v) json_array_append_new(bubble_keys, json_string(key));
    size_t nt = json_array_size(tenant_keys), nb = json_array_size(bubble_keys);
    json_int_t base = top->next_id;
    top->next_id += (json_int_t)(2 + nt + nb);
    int rc = prism_ctl_conn_request(top->conn, base, "relay.info", NULL);
    if (rc == 0)
        rc = prism_ctl_conn_request(top->conn, base + 1, "stats.get", NULL);
    for (size_t i = 0; rc == 0 && i < nt; i++)
        rc = ask_stats(top, base + 2 + (json_int_t)i,
                       json_string_value(json_array_get(tenant_keys, i)), false);
    for (size_t i = 0; rc == 0 && i < nb; i++)
        rc = ask_stats(top, base + 2 + (json_int_t)(nt + i),
                       json_string_value(json_array_get(bubble_keys, i)), true);

    json_t *snap = json_object();
    json_t *tenants = json_object(), *bubbles = json_object();
    /* Replies come in request order (docs/signaling.md "Framing"). */
    for (size_t i = 0; rc == 0 && i < 2 + nt + nb; i++) {
        json_t *reply = NULL;
        rc = await_reply(top, base + (json_int_t)i, &reply);
        if (rc != 0)
            break;
        json_t *result = json_object_get(reply, "result");
        const char *why = reason_of(reply);
        bool gone = why != NULL && strcmp(why, "not_found") == 0;
        if (i == 0 && result != NULL) {
            json_object_set(snap, "info", result);
        } else if (i == 1 && result != NULL) {
            json_object_set(snap, "stats", result);
        } else if (i >= 2 && i < 2 + nt) {
            const char *t = json_string_value(json_array_get(tenant_keys, i - 2));
            if (result != NULL)
                json_object_set(tenants, t, result);
            else if (gone &&
                     !json_is_true(json_object_get(json_object_get(top->tenants, t), "pinned")))
                json_object_del(top->tenants, t);
        } else if (i >= 2 + nt) {
            const char *b = json_string_value(json_array_get(bubble_keys, i - 2 - nt));
            json_t *known = json_object_get(top->bubbles, b);
            if (result != NULL) {
                json_t *row = json_pack("{s:O}", "stats", result);
                json_t *speaker = json_object_get(known, "speaker");
                if (speaker != NULL)
                    json_object_set(row, "speaker", speaker);
                json_object_set_new(bubbles, b, row);
            } else if (gone && !json_is_true(json_object_get(known, "pinned"))) {
                json_object_del(top->bubbles, b);
            }
        }
        json_decref(reply);
    }
    json_decref(tenant_keys);
    json_decref(bubble_keys);
    char clock[16] = "";
    time_t wall = time(NULL);
    struct tm tm;
    if (localtime_r(&wall, &tm) != NULL)
        strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
    json_object_set_new(snap, "t", json_real(now_s()));
    json_object_set_new(snap, "clock", json_string(clock));
    json_object_set_new(snap, "tenants", tenants);
    json_object_set_new(snap, "bubbles", bubbles);
    if (rc != 0) {
        json_decref(snap);
        return rc;
    }
    *out = snap;
    return 0;
}

/* Takes events (and, on a terminal, keys) until `until` (monotonic s).
 * Returns 1 when the user asked to quit, 0 at the time, PRISM_EIO if the
 * relay went away. */
static int wait_until(struct top *top, double until)
{
    for (;;) {
        if (stop_requested)
            return 1;
        json_t *msg;
        int rc;
        while ((rc = prism_ctl_conn_recv(top->conn, 0, &msg)) == 1) {
            if (json_object_get(msg, "method") != NULL)
                on_event(msg, top);
            json_decref(msg);
        }
        if (rc < 0)
            return PRISM_EIO;
        double left = until - now_s();
        if (left <= 0)
            return 0;
        struct pollfd pfd[2] = {{.fd = prism_ctl_conn_fd(top->conn), .events = POLLIN},
                                {.fd = STDIN_FILENO, .events = POLLIN}};
        int n = poll(pfd, top->raw_stdin ? 2 : 1, (int)ceil(left * 1000));
        if (n > 0 && top->raw_stdin && (pfd[1].revents & POLLIN)) {
            char key;
            if (read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q'))
                return 1;
        }
    }
}

static void terminal_enter(struct top *top)
{
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &top->saved) == 0) {
        struct termios t = top->saved;
        t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        top->raw_stdin = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
    }
    fputs("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2Jprismctl top: first figures in one interval...",
          stdout);
    fflush(stdout);
}

static void terminal_leave(struct top *top)
{
    fputs("\x1b[?25h\x1b[?1049l", stdout);
    fflush(stdout);
    if (top->raw_stdin)
        tcsetattr(STDIN_FILENO, TCSANOW, &top->saved);
}

/* Paints a frame: each line clears its rest, the screen below is cleared. */
static void paint(const char *frame, size_t len)
{
    fputs("\x1b[H", stdout);
    const char *p = frame, *end = frame + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        fwrite(p, 1, n, stdout);
        fputs("\x1b[K", stdout);
        if (nl == NULL)
            break;
        /* No newline after the screen's last line: it would scroll. */
        if (nl + 1 < end)
            fputc('\n', stdout);
        p = nl + 1;
    }
    fputs("\x1b[J", stdout);
    fflush(stdout);
}

static int show(struct top *top, const json_t *prev, const json_t *cur)
{
    if (!top->tty) {
        int rc = prism_ctl_top_render(stdout, prev, cur, 0, 0);
        fputc('\n', stdout);
        fflush(stdout);
        return rc;
    }
    struct winsize ws = {0};
    size_t width = 0, height = 0;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        width = ws.ws_col;
        height = ws.ws_row;
    }
    char *frame = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&frame, &len);
    if (mem == NULL)
        return PRISM_ENOMEM;
    int rc = prism_ctl_top_render(mem, prev, cur, width, height);
    if (fclose(mem) != 0)
        rc = PRISM_ENOMEM;
    if (rc == 0)
        paint(frame, len);
    free(frame);
    return rc;
}

int prism_ctl_top_run(const struct prism_ctl_target *target, const struct prism_ctl_top_options *o)
{
    struct top top = {.next_id = ID_SUBSCRIBE + 1};
    top.tty = !o->force_plain && isatty(STDOUT_FILENO);
    top.bubbles = json_object();
    top.tenants = json_object();
    for (size_t i = 0; i < o->n_tenants; i++)
        know(top.tenants, o->tenants[i], true);
    for (size_t i = 0; i < o->n_bubbles; i++) {
        char tenant[80];
        const char *slash = strchr(o->bubbles[i], '/');
        size_t tlen = (size_t)(slash - o->bubbles[i]);
        know(top.bubbles, o->bubbles[i], true);
        if (tlen < sizeof(tenant)) {
            memcpy(tenant, o->bubbles[i], tlen);
            tenant[tlen] = '\0';
            know(top.tenants, tenant, true);
        }
    }
    /* Ctrl-C ends the loop, so the terminal is restored on the way out. */
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int status = 2;
    json_t *prev = NULL, *cur = NULL;
    if (prism_ctl_conn_open(target, &top.conn) != 0 || subscribe(&top) != 0 ||
        take_snapshot(&top, &prev) != 0)
        goto out;
    if (top.tty)
        terminal_enter(&top);
    double next = now_s() + o->interval_s;
    for (long frames = 0; o->iterations == 0 || frames < o->iterations; frames++) {
        int rc = wait_until(&top, next);
        if (rc == 1) {
            status = 0;
            break;
        }
        if (rc < 0 || take_snapshot(&top, &cur) != 0)
            break;
        /* Ticks stay on the interval's grid; a late round skips, never bunches. */
        next += o->interval_s;
        if (next < now_s())
            next = now_s() + o->interval_s;
        if (show(&top, prev, cur) != 0)
            break;
        json_decref(prev);
        prev = cur;
        cur = NULL;
        if (o->iterations != 0 && frames + 1 == o->iterations)
            status = 0;
    }
    if (top.tty)
        terminal_leave(&top);
    if (status != 0 && !stop_requested)
        fprintf(stderr, "prismctl: lost the relay\n");
    if (stop_requested)
        status = 0;
out:
    json_decref(prev);
    json_decref(cur);
    json_decref(top.bubbles);
    json_decref(top.tenants);
    prism_ctl_conn_close(top.conn);
    return status;
}
