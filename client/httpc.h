/*
 * httpc.h - the libcurl plumbing the station's HTTP clients share (the CA
 * client, caclient.h, and the nRF Cloud client, nrfcloud.h).
 *
 * Offers:
 * - reading a bearer secret from a file into an "Authorization: Bearer ..."
 *   header line (first printable word, bounded, optionally owner-only mode);
 * - one handle that keeps its connection alive between requests;
 * - a request with retries and exponential backoff on network failures, 429
 *   and 5xx, honouring Retry-After (delta seconds, capped), within a time
 *   budget, telling a callback about each retry;
 * - answers bounded by a size given per request (over it: an error, never a
 *   truncated body), no redirects followed, http and https only.
 *
 * Secrets: the header line is never logged or put in an error message; it
 * is wiped when freed (nrfca_http_secret_free).
 *
 * Ownership: a handle owns its curl handle and a copy of its options'
 * strings; a request borrows everything; an answer owns its body
 * (nrfca_http_answer_clear).
 */
#ifndef NRFCA_CLIENT_HTTPC_H
#define NRFCA_CLIENT_HTTPC_H

#include <stddef.h>

#include "error.h"

#define NRFCA_HTTP_MAX_SECRET 1024u      /* bytes of a secret file */

/* Read the secret file at path.  require_private: refuse a file whose mode
 * gives group or others any access ("what" names the file in messages,
 * e.g. "API key file").  *header is "Authorization: Bearer <secret>". */
int nrfca_http_read_bearer(const char *path, const char *what, int require_private,
			   char **header, struct nrfca_err *e);
/* Wipe and free a header from nrfca_http_read_bearer (NULL is fine). */
void nrfca_http_secret_free(char *header);

struct nrfca_http_opts {
	const char *ca_bundle;      /* PEM bundle to verify servers; NULL = system store */
	const char *client_cert;    /* PEM client certificate (mutual TLS); NULL = none */
	const char *client_key;     /* its PEM private key; NULL = in client_cert's file */
	long connect_timeout_ms;    /* 0 = 5000 */
	long timeout_ms;            /* whole exchange, per attempt; 0 = 30000 */
	unsigned attempts;          /* 0 = 10 */
	unsigned backoff_ms;        /* first wait, doubled each time; 0 = 500 */
	unsigned max_wait_ms;       /* cap on one wait (also on Retry-After); 0 = 8000 */
	unsigned long budget_ms;    /* no new attempt after this long; 0 = 120000 */
	/* Told about each retry: "retrying in 2.0 s, attempt 2 of 10: <peer> not
	 * available (HTTP 503: ...)". */
	void (*notify)(void *ctx, const char *msg);
	void *notify_ctx;
};

struct nrfca_http_req {
	const char *method;         /* "GET" or "POST" */
	const char *url;            /* full URL */
	const char *auth;           /* header line from nrfca_http_read_bearer, or NULL */
	const char *content_type;   /* POST only */
	const char *accept;         /* NULL = none sent */
	const void *body;           /* POST body */
	size_t body_len;
	size_t max_answer;          /* bytes of the answer body accepted */
	const char *peer;           /* names the server in messages: "the CA", "nRF Cloud" */
	/* Upload progress of a POST (bytes sent, total); may be NULL. */
	void (*progress)(void *ctx, size_t sent, size_t total);
	void *progress_ctx;
};

enum nrfca_http_outcome {
	NRFCA_HTTP_ANSWERED = 0,    /* a status that is not 429 or 5xx: see a->status */
	NRFCA_HTTP_UNREACHABLE,     /* network failure, 429 or 5xx after all retries */
	NRFCA_HTTP_CONFIG,          /* TLS verification, bad URL: waiting does not help */
	NRFCA_HTTP_TOO_LARGE,       /* answer over max_answer */
	NRFCA_HTTP_OUTCOME_MAX
};

struct nrfca_http_answer {
	long status;                /* HTTP status of the last attempt (0: none) */
	char *body;                 /* NUL-terminated; NULL when empty */
	size_t len;
	unsigned attempts;
};

struct nrfca_http;

int nrfca_http_create(const struct nrfca_http_opts *o, struct nrfca_http **out,
		      struct nrfca_err *e);
void nrfca_http_free(struct nrfca_http *h);

/* One request with retries; e is set for every outcome but ANSWERED.  a is
 * cleared first. */
enum nrfca_http_outcome nrfca_http_request(struct nrfca_http *h, const struct nrfca_http_req *rq,
					   struct nrfca_http_answer *a, struct nrfca_err *e);
/* The same with one attempt and a 5 s deadline (a quick probe). */
enum nrfca_http_outcome nrfca_http_request_once(struct nrfca_http *h,
						const struct nrfca_http_req *rq,
						struct nrfca_http_answer *a, struct nrfca_err *e);
void nrfca_http_answer_clear(struct nrfca_http_answer *a);

/* Retry-After header value in seconds (delta form only); -1 when absent or
 * not a number. */
long nrfca_http_parse_retry_after(const char *value);

/* 1 when url is https://, or http:// to a loopback host (127.0.0.0/8, ::1,
 * localhost); host names the URL's host in *why otherwise.  Uses libcurl's
 * URL parser. */
int nrfca_http_url_safe(const char *url, char *why, size_t cap);

#endif
