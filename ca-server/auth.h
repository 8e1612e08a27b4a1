/*
 * auth.h - API credentials: bearer secrets (shown once, stored as SHA-256)
 * and the caller they identify.
 */
#ifndef NRFCA_AUTH_H
#define NRFCA_AUTH_H

#include "error.h"
#include "ledger.h"

#define AUTH_SECRET_LEN 49        /* "nrfca_" + 43 base64url characters */
#define AUTH_HEADER_MAX 512

struct principal {
	char name[LEDGER_CRED_NAME_MAX + 1];
	enum cred_role role;
	int via_client_cert;
};

/* A new random secret (32 bytes from the CSPRNG), NUL-terminated. */
int auth_new_secret(char out[AUTH_SECRET_LEN + 1], struct nrfca_err *err);
void auth_hash(const char *secret, size_t len, unsigned char out[32]);

/* Check an Authorization header value ("Bearer <secret>").  0: *who is
 * filled; -1: err says why (NRFCA_E_INPUT malformed/unknown/disabled ->
 * 401, NRFCA_E_DB -> 503). */
int auth_bearer(struct ledger *l, const char *header, struct principal *who,
		struct nrfca_err *err);

/* The credential a verified client certificate is bound to: by the
 * SHA-256 of its DER, else by its RFC 2253 subject (clientcert.h).  0: *who
 * filled (via_client_cert set); -1: err says why (NRFCA_E_INPUT not bound,
 * disabled or expired -> 401, NRFCA_E_DB -> 503). */
int auth_client_cert(struct ledger *l, const unsigned char sha256[32], const char *subject,
		     struct principal *who, struct nrfca_err *err);

#endif
