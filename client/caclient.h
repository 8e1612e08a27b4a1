/*
 * caclient.h - the station's HTTP(S) client to nrfca-server (libcurl).
 *
 * Offers (over httpc.h): POST a JSON body to the CA with a bearer secret read from a file,
 * verify the server against a CA bundle, bounded timeouts, retries with
 * exponential backoff on network failures and on 503/429 (honouring
 * Retry-After, capped), a response size limit (NRFCA_CA_MAX_RESPONSE), and
 * the answer decoded: either the enrollment fields or the server's error
 * {"error","detail","rule"}.
 *
 * Retrying a POST /v1/enroll is safe: the server answers a repeated CSR with
 * the certificate it already issued (200), never with a second one.
 *
 * Ownership: the handle owns its curl handle and a copy of the bearer secret
 * (wiped at nrfca_ca_free).  An answer owns its JSON document; its string
 * fields are borrowed from it until nrfca_ca_answer_clear.
 */
#ifndef NRFCA_CLIENT_CACLIENT_H
#define NRFCA_CLIENT_CACLIENT_H

#include <stddef.h>

#include <jansson.h>

#include "error.h"
#include "httpc.h"

#define NRFCA_CA_MAX_RESPONSE (256u * 1024u)  /* bytes of one answer body */
#define NRFCA_CA_MAX_TOKEN    NRFCA_HTTP_MAX_SECRET  /* bytes of the bearer secret file */

struct nrfca_ca_opts {
	const char *url;            /* base URL, e.g. https://ca.example:8443 */
	const char *token_file;     /* bearer secret (first line); NULL = none */
	const char *ca_bundle;      /* PEM bundle to verify the server; NULL = system store */
	const char *client_cert;    /* PEM client certificate (mutual TLS); NULL = none */
	const char *client_key;     /* its PEM private key; NULL = in client_cert's file */
	long connect_timeout_ms;    /* 0 = 5000 */
	long timeout_ms;            /* whole exchange, per attempt; 0 = 30000 */
	unsigned attempts;          /* 0 = 10 */
	unsigned backoff_ms;        /* first wait, doubled each time; 0 = 500 */
	unsigned max_wait_ms;       /* cap on one wait (also on Retry-After); 0 = 8000 */
	unsigned long budget_ms;    /* give up once this much time went by; 0 = 120000 */
	/* Told about each retry ("CA unreachable (...); retrying in 2.0 s"). */
	void (*notify)(void *ctx, const char *msg);
	void *notify_ctx;
};

enum nrfca_ca_outcome {
	NRFCA_CA_OK = 0,            /* 2xx with a JSON object */
	NRFCA_CA_REFUSED,           /* a 4xx answer: the server's error is in the answer */
	NRFCA_CA_UNREACHABLE,       /* network failure, 5xx, 429/503 after all retries */
	NRFCA_CA_BAD_ANSWER,        /* answer not JSON, too large, fields missing */
	NRFCA_CA_OUTCOME_MAX
};

struct nrfca_ca_answer {
	long status;                /* HTTP status of the last attempt (0: none) */
	unsigned attempts;          /* attempts made */
	json_t *body;               /* the decoded answer, or NULL */
	/* POST /v1/enroll success (borrowed from body; may be NULL) */
	const char *serial, *device_id, *profile, *certificate, *chain, *trust_bundle,
		*not_before, *not_after;
	long long sec_tag;          /* -1 when null or absent */
	/* error answers (borrowed; "" when absent) */
	const char *error, *detail, *rule;
	int credential;             /* the refusal is about the station's credential: HTTP 401,
				       or 403 "forbidden" (its role may not use the route) */
};

struct nrfca_ca;

/* Reads the token file (at most NRFCA_CA_MAX_TOKEN bytes, surrounding white
 * space removed, refused when empty or with control characters). */
int nrfca_ca_create(const struct nrfca_ca_opts *o, struct nrfca_ca **out, struct nrfca_err *e);
void nrfca_ca_free(struct nrfca_ca *ca);

/* Check a token file as nrfca_ca_create reads it (exists, regular, one
 * printable word, at most NRFCA_CA_MAX_TOKEN bytes); the secret is wiped. */
int nrfca_ca_token_check(const char *path, struct nrfca_err *e);

/* POST body (JSON) to url + path.  Returns the outcome; e is set for every
 * outcome but NRFCA_CA_OK.  For NRFCA_CA_REFUSED e holds the server's
 * detail and rule.  a is cleared first. */
enum nrfca_ca_outcome nrfca_ca_post(struct nrfca_ca *ca, const char *path, json_t *body,
				    struct nrfca_ca_answer *a, struct nrfca_err *e);
/* GET url + path with the same retries and limits; a->body holds the
 * decoded JSON object on NRFCA_CA_OK. */
enum nrfca_ca_outcome nrfca_ca_get(struct nrfca_ca *ca, const char *path,
				   struct nrfca_ca_answer *a, struct nrfca_err *e);

/* POST /v1/enroll, and check that a success carries serial, device_id,
 * certificate and chain (else NRFCA_CA_BAD_ANSWER). */
enum nrfca_ca_outcome nrfca_ca_enroll(struct nrfca_ca *ca, json_t *body,
				      struct nrfca_ca_answer *a, struct nrfca_err *e);

void nrfca_ca_answer_clear(struct nrfca_ca_answer *a);

/* Retry-After header value in seconds (delta form only); -1 when absent or
 * not a number.  Exposed for tests. */
long nrfca_ca_parse_retry_after(const char *value);

const char *nrfca_ca_outcome_name(enum nrfca_ca_outcome o);

#endif
