/* The control protocol's methods, listed once (docs/signaling.md "Methods").
 *
 * methods.c builds its dispatch table from this list and prismctl prints it
 * for --list-methods (shell completion), so the relay and its client cannot
 * disagree on what exists. X(NAME, HANDLER): HANDLER is methods.c's static
 * function for the method; other users ignore it.
 */
#ifndef PRISM_SIGNALING_METHOD_LIST_H
#define PRISM_SIGNALING_METHOD_LIST_H

#define PRISM_METHOD_LIST(X)                                                                       \
    X("relay.info", relay_info)                                                                    \
    X("tenant.create", tenant_create)                                                              \
    X("tenant.delete", tenant_delete)                                                              \
    X("bubble.create", bubble_create)                                                              \
    X("bubble.delete", bubble_delete)                                                              \
    X("bubble.configure", bubble_configure)                                                        \
    X("bubble.info", bubble_info)                                                                  \
    X("peer.join", peer_join)                                                                      \
    X("peer.publish", peer_publish)                                                                \
    X("peer.subscribe", peer_subscribe)                                                            \
    X("peer.answer", peer_answer)                                                                  \
    X("peer.candidate", peer_candidate)                                                            \
    X("peer.prefer", peer_prefer)                                                                  \
    X("peer.leave", peer_leave)                                                                    \
    X("events.subscribe", events_subscribe)                                                        \
    X("stats.get", stats_get)                                                                      \
    X("relay.drain", relay_drain)

#endif
