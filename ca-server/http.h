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

#include "ca.h"
#include "config.h"
#include "error.h"

struct http_server;

int http_start(const struct nrfca_config *cfg, struct ca *ca, struct signer *s,
	       struct ledger *l, struct http_server **out, struct nrfca_err *err);
/* The port actually bound (useful with port 0). */
int http_port(const struct http_server *h);
int http_admin_port(const struct http_server *h);
/* Re-read what may change without a restart: the stations' CA and CRL
 * (tls.client_ca, tls.client_crl).  On failure the previous ones stay. */
int http_reload(struct http_server *h, struct nrfca_err *err);
/* Stop accepting, wait up to `grace_seconds` for requests in flight, stop. */
void http_stop(struct http_server *h, int grace_seconds);

#endif
