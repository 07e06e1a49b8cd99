/* `prismctl drain [--wait [--deadline S]]`: drain a relay as an operator
 * does before stopping or upgrading it (docs/operations.md "Drain").
 */
#ifndef PRISM_SIGNALING_PRISMCTL_DRAIN_H
#define PRISM_SIGNALING_PRISMCTL_DRAIN_H

#include <stdbool.h>

#include "signaling/prismctl_conn.h"

/* Exit status of `drain --wait` when the deadline passed with bubbles left. */
#define PRISM_CTL_EXIT_DEADLINE 3

/* Calls relay.drain on `target`. Without `wait`, prints its result like any
 * method. With `wait`, then follows relay.drained (and the relay-wide
 * bubble count, once a second, which also covers a relay drained earlier)
 * until the relay holds no bubble, or deadline_s seconds (0: no deadline)
 * have passed; progress goes to stderr. Returns the exit status: 0 drained
 * (or, without wait, drain started), 1 the relay refused (the error object
 * on stderr), 2 connection lost or failed, PRISM_CTL_EXIT_DEADLINE. */
int prism_ctl_drain_run(const struct prism_ctl_target *target, bool wait, double deadline_s);

#endif
