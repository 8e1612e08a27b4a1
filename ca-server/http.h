/*
 * http.h - the REST API of nrfca-server on libmicrohttpd: the route table
 * of DESIGN.md, authentication (bearer token or verified client
 * certificate), request limits, JSON errors, access log and metrics.
 *
 * One thread per connection (handlers block on the token and on the
 * ledger's group commit).  The server borrows the CA, signer and ledger.
 */
#ifndef NRFCA_HTTP_H
#define NRFCA_HTTP_H

#include <sys/socket.h>

#include "ca.h"
#include "config.h"
#include "error.h"

struct http_server;

int http_start(const struct nrfca_config *cfg, struct ca *ca, struct signer *s,
	       struct ledger *l, struct http_server **out, struct nrfca_err *err);
/* Tests and fuzz targets: the same server (main listener only, plain HTTP)
 * without a listening socket.  http_add_connection hands it one connected
 * stream socket, as if accepted from `peer`; the server owns and closes the
 * descriptor from then on (also when it refuses it, e.g. over the
 * connection limits). */
int http_start_unlistened(const struct nrfca_config *cfg, struct ca *ca, struct signer *s,
			  struct ledger *l, struct http_server **out, struct nrfca_err *err);
int http_add_connection(struct http_server *h, int fd, const struct sockaddr *peer,
			socklen_t peer_len, struct nrfca_err *err);
/* The port actually bound (useful with port 0). */
int http_port(const struct http_server *h);
int http_admin_port(const struct http_server *h);
/* Re-read what may change without a restart: the stations' CA and CRL
 * (tls.client_ca, tls.client_crl).  On failure the previous ones stay. */
int http_reload(struct http_server *h, struct nrfca_err *err);
/* Stop accepting, wait up to `grace_seconds` for requests in flight, stop. */
void http_stop(struct http_server *h, int grace_seconds);

#endif
