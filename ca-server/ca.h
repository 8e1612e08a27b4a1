/*
 * ca.h - the certificate authority: the issuance pipeline of DESIGN.md, the
 * CRL and revocation, independent of HTTP.  The HTTP layer decodes a
 * request into these structures, calls one function and encodes the result.
 *
 * A `struct ca` owns nothing it is given (signer, ledger); it owns the CA
 * chain it loaded and the current CRL.  All functions are thread-safe.
 */
#ifndef NRFCA_CA_H
#define NRFCA_CA_H

#include <stddef.h>

#include <jansson.h>

#include "auth.h"
#include "error.h"
#include "ledger.h"
#include "signer.h"

struct ca;

struct ca_options {
	const char *chain_path;       /* PEM: CA certificate first */
	int crl_next_update_hours;    /* default 24 */
};

int ca_open(const struct ca_options *o, struct signer *s, struct ledger *l, struct ca **out,
	    struct nrfca_err *err);
void ca_free(struct ca *ca);

/* The chain as PEM text (LF line endings), borrowed. */
const char *ca_chain_pem(const struct ca *ca);
/* {"chain": [PEM, ...]} (new reference). */
json_t *ca_chain_json(const struct ca *ca);

/* One enrollment request, decoded from the JSON body. */
struct enroll_req {
	const char *keygen;           /* %KEYGEN output, or NULL */
	size_t keygen_len;
	const char *csr_pem;          /* PEM CSR, or NULL */
	size_t csr_len;
	const char *profile;          /* NULL: the default */
	const char *request_id;       /* NULL or 1..64 printable characters */
	const char *imei;             /* NULL or 15 digits, as read by the station */
	const char *slot;             /* NULL or the station's fixture slot (1..64 of
					 A-Z a-z 0-9 . _ - : + @), recorded in the ledger */
	int validity_days;            /* 0: the profile's default */
	int dry_run;
};

/* The answer: an HTTP status with either a body or an error. */
struct ca_result {
	int status;                   /* 200, 201, 400, 403, 404, 409, 429, 503 ... */
	json_t *body;                 /* success body (owned by the result) */
	const char *error;            /* error code, e.g. "invalid_keygen" */
	const char *rule;             /* policy rule name on 403/409/429 */
	unsigned retry_after;         /* seconds for 429 / 503 */
	char detail[NRFCA_ERR_MSG_MAX];
};
void ca_result_clear(struct ca_result *r);

void ca_enroll(struct ca *ca, const struct principal *who, const struct enroll_req *rq,
	       struct ca_result *res);

/* Revoke; regenerates the CRL. */
void ca_revoke(struct ca *ca, const struct principal *who, const char *serial,
	       const char *reason, struct ca_result *res);

/* A certificate record as JSON (the API's representation). */
json_t *ca_record_json(struct ca *ca, const struct cert_record *r);

/* The current CRL in DER (copied into *der, malloc'd).  Regenerates it when
 * it is missing or due.  -1 when none can be made (token down). */
int ca_crl_der(struct ca *ca, unsigned char **der, size_t *len, struct nrfca_err *err);
/* Make a new CRL now (after a revocation, before nextUpdate). */
int ca_crl_refresh(struct ca *ca, struct nrfca_err *err);
/* Called periodically: refreshes the CRL when a quarter of its lifetime is left. */
void ca_crl_tick(struct ca *ca);

#endif
