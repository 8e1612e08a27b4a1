/*
 * conntrack.h - the HTTP listeners' connections and their receive deadline.
 *
 * A request, its headers and its body, must arrive within `receive_seconds`
 * of the connection's start, or of the previous answer on a kept-alive
 * connection.  The clock does not restart on each byte (a client sending one
 * header line every few seconds is still cut), and it stops while the
 * request is handled and answered.  A watchdog thread shuts down the socket
 * of a connection past its deadline; libmicrohttpd then sees the end of the
 * stream and closes the connection as usual.  Each cut is counted in the
 * metric nrfca_http_connections_closed_total{reason="receive_deadline"} and
 * logged ("receive_deadline", at most one line per watchdog pass).
 *
 * http.c calls conntrack_open when libmicrohttpd reports a new connection
 * and keeps the returned entry as the connection's socket context until
 * conntrack_close, which must run before the socket is closed (so the
 * watchdog never touches a descriptor that was reused).  The tracker owns
 * the entries.  All functions are thread-safe.
 */
#ifndef NRFCA_CONNTRACK_H
#define NRFCA_CONNTRACK_H

#include <sys/socket.h>

#include "error.h"

struct conntrack;
struct ct_conn;

int conntrack_start(int receive_seconds, struct conntrack **out, struct nrfca_err *err);
/* Stops the watchdog and frees every entry.  Call after the listeners have
 * stopped.  NULL is fine. */
void conntrack_stop(struct conntrack *t);

/* A new connection: the clock starts.  NULL when out of memory (the
 * connection is then not tracked). */
struct ct_conn *conntrack_open(struct conntrack *t, int fd, const struct sockaddr *peer);
/* The request's headers arrived (the clock keeps running for the body). */
void conntrack_headers_done(struct conntrack *t, struct ct_conn *c);
/* The whole request arrived, or an answer was queued early: the clock stops. */
void conntrack_handling(struct conntrack *t, struct ct_conn *c);
/* The answer went out: the clock restarts for the next request. */
void conntrack_answered(struct conntrack *t, struct ct_conn *c);
/* The connection ends; before its socket is closed.  NULL c is fine. */
void conntrack_close(struct conntrack *t, struct ct_conn *c);

#endif
