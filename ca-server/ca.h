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

struct identity;

struct ca_options {
	const char *chain_path;       /* PEM: CA certificate first */
	int crl_next_update_hours;    /* default 24 */
	struct identity *identity;    /* nRF Cloud's Identity Service (borrowed; must outlive
					 the ca), or NULL when not configured */
};

int ca_open(const struct ca_options *o, struct signer *s, struct ledger *l, struct ca **out,
	    struct nrfca_err *err);
void ca_free(struct ca *ca);

/* The chain as PEM text (LF line endings), borrowed. */
const char *ca_chain_pem(const struct ca *ca);
/* {"chain": [PEM, ...]} (new reference). */
json_t *ca_chain_json(const struct ca *ca);
/* The issuing CA certificate (chain[0]) in DER, borrowed: what an
 * authorityInfoAccess caIssuers URL points to (RFC 5280 4.2.2.1). */
const unsigned char *ca_cert_der(const struct ca *ca, size_t *len);

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
	char *raw;                    /* or the success body as JSON text (owned) */
	size_t raw_len;
	char serial[LEDGER_SERIAL_MAX + 1]; /* of a raw body, for the request log */
	char device_id[65];
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

/* 1 when `who` may read certificate `r` (GET /v1/certificates/{serial}):
 * operators and auditors always; a station when it is in the certificate's
 * station scope, the rule that also decides who may receive it again as a
 * replay or supersede it (policy: supersede_from of the record's profile). */
int ca_station_may_see(struct ca *ca, const struct principal *who, const struct cert_record *r);

/* A certificate record as JSON (the API's representation). */
json_t *ca_record_json(struct ca *ca, const struct cert_record *r);

/* The CRL.  One CRL serves every process and instance sharing the ledger:
 * whoever signs one publishes it there.  A CRL is current while the
 * ledger's revocation mark (bumped by every revocation, by any process)
 * equals the mark it was built at and less than three quarters of its
 * lifetime have passed. */

/* The current CRL in DER (copied into *der, malloc'd): the cached one when
 * it is current (one single-row read of the ledger), else the published one
 * when that is current, else a new one signed and published.  With the
 * ledger down a cached CRL is served until its nextUpdate.  -1 when none can
 * be had (token or ledger down). */
int ca_crl_der(struct ca *ca, unsigned char **der, size_t *len, struct nrfca_err *err);
/* Sign and publish a new CRL now (after a revocation; nrfca-admin crl). */
int ca_crl_refresh(struct ca *ca, struct nrfca_err *err);
/* The first CRL served is signed then, not taken from the ledger: its
 * number (at least the time in ms) passes any CRL served before, also after
 * the ledger was restored from a backup holding an older published CRL.  A
 * server calls it before it listens and ca_crl_tick right after, so start-up
 * does not wait for a large CRL and no request gets the older one. */
void ca_crl_fresh_at_start(struct ca *ca);
/* Called periodically: the same as ca_crl_der without the copy. */
void ca_crl_tick(struct ca *ca);
/* Called periodically (every few seconds): ca_crl_tick, and the audit
 * summaries of refused enrollments whose interval has passed. */
void ca_tick(struct ca *ca);

/* The CRL being served, for /v1/ready and /metrics (zeros before the first). */
struct ca_crl_info {
	long long this_update, next_update;   /* unix seconds */
	unsigned long long number;
	long long entries;                    /* revoked certificates listed */
};
void ca_crl_info(struct ca *ca, struct ca_crl_info *out);

#endif
