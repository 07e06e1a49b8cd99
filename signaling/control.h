/* The control plane: the control thread's loop, the control socket, request
 * dispatch, events, the audit trail and signals. relay/main.c hands it a
 * loaded configuration and it runs until SIGTERM or SIGINT.
 */
#ifndef PRISM_SIGNALING_CONTROL_H
#define PRISM_SIGNALING_CONTROL_H

#include "relay/base/config.h"

/* Runs the relay on the calling thread (which becomes the control thread).
 * `cfg` is owned by the caller and must outlive the call. Returns the
 * process exit status: 0 after a clean stop, 1 if startup failed (the reason
 * is logged). */
int prism_control_run(struct prism_config *cfg);

#endif
