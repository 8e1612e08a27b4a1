/*
 * nrfcloud.h - the part of nRF Cloud's REST API that nrfca uses, and the
 * parsers of its answers.
 *
 * Sources (see docs/ONBOARDING.md): nRF Cloud's OpenAPI document
 * (operations OnboardDevices `POST /v1/devices`, RegisterPublicKeys
 * `POST /v1/devices/public-keys`, FetchBulkOpsRequest
 * `GET /v1/bulk-ops-requests/{id}`, FetchDevice `GET /v1/devices/{id}`) and
 * Nordic's nrfcloud-utils (`nrf_cloud_onboard`: the stage hosts, text/csv,
 * polling until neither PENDING nor IN_PROGRESS, the error summary fetched
 * from errorSummaryUrl WITHOUT the API key and its "[<row>]: <message>"
 * entries).
 *
 * Both uploads take CSV without a header, at most NRFCLOUD_MAX_ROWS rows,
 * and answer 202 {"bulkOpsRequestId"}; 422 when the data does not validate.
 *
 * Every answer is untrusted: bodies are bounded (NRFCLOUD_MAX_ANSWER,
 * NRFCLOUD_MAX_SUMMARY), identifiers and URLs are checked before use, an
 * unknown status is an error (never polled forever).
 *
 * The API key is read from a file that must be mode 0600 (or stricter); it
 * is sent only to the API endpoint, never logged, never written anywhere.
 *
 * Ownership: a handle owns its HTTP handle and the key (wiped at free).
 * Parsed values are owned by the caller-provided structs (the *_clear
 * functions free them).  A handle is for one thread at a time.
 */
#ifndef NRFCA_CLIENT_NRFCLOUD_H
#define NRFCA_CLIENT_NRFCLOUD_H

#include <stddef.h>

#include "error.h"

#define NRFCLOUD_DEFAULT_ENDPOINT "https://api.nrfcloud.com"
#define NRFCLOUD_MAX_ROWS 1000u                 /* rows per upload (both endpoints) */
#define NRFCLOUD_MAX_ANSWER (64u * 1024u)       /* JSON answers of the API */
#define NRFCLOUD_MAX_SUMMARY (4u * 1024u * 1024u) /* the error summary document */
#define NRFCLOUD_MAX_ERRORS 10000u              /* entries in one error summary */
#define NRFCLOUD_MAX_MESSAGE 1024u              /* bytes of one error message */
#define NRFCLOUD_MAX_URL 2048u                  /* errorSummaryUrl */
#define NRFCLOUD_ID_MAX 64u                     /* bulkOpsRequestId (a ULID is 26) */
#define NRFCLOUD_DEVICE_ID_MAX 128u             /* /^[a-z0-9:_-]{1,128}$/i */

enum nrfcloud_upload_kind {
	NRFCLOUD_ONBOARD_DEVICES = 0,   /* POST /v1/devices: id,subType,tags,fwTypes,"PEM" */
	NRFCLOUD_REGISTER_PUBLIC_KEYS,  /* POST /v1/devices/public-keys: id,"PEM" */
	NRFCLOUD_UPLOAD_KIND_MAX
};

enum nrfcloud_status {
	NRFCLOUD_PENDING = 0,
	NRFCLOUD_IN_PROGRESS,
	NRFCLOUD_SUCCEEDED,
	NRFCLOUD_FAILED,
	NRFCLOUD_STATUS_MAX
};

enum nrfcloud_outcome {
	NRFCLOUD_OK = 0,
	NRFCLOUD_REFUSED,       /* a 4xx other than 401/403: e holds nRF Cloud's message */
	NRFCLOUD_AUTH,          /* 401/403: the API key was refused */
	NRFCLOUD_UNREACHABLE,   /* network, 429/5xx after the retries */
	NRFCLOUD_BAD_ANSWER,    /* answer malformed, too large, unexpected status */
	NRFCLOUD_CONFIG,        /* TLS verification, bad URL */
	NRFCLOUD_OUTCOME_MAX
};

struct nrfcloud_opts {
	const char *endpoint;        /* base URL without /v1; NULL = NRFCLOUD_DEFAULT_ENDPOINT */
	const char *api_key_file;    /* mode 0600 */
	const char *ca_bundle;       /* PEM bundle for TLS; NULL = system store */
	unsigned attempts;           /* per request, on network failure / 429 / 5xx; 0 = 8 */
	unsigned backoff_ms;         /* first wait; 0 = 1000 */
	unsigned max_wait_ms;        /* cap on one wait, also on Retry-After; 0 = 30000 */
	void (*notify)(void *ctx, const char *msg);   /* told about retries */
	void *notify_ctx;
};

/* The API base URL of a stage as nrf_cloud_onboard builds it: "prod"
 * https://api.nrfcloud.com, "beta" https://api.beta.nrfcloud.com, "dev"
 * https://api.dev.nrfcloud.com.  NULL for an unknown stage. */
const char *nrfcloud_stage_endpoint(const char *stage);

struct nrfcloud;

/* Checks the endpoint (https://, or http:// only to loopback) and reads the
 * API key file. */
int nrfcloud_create(const struct nrfcloud_opts *o, struct nrfcloud **out, struct nrfca_err *e);
void nrfcloud_free(struct nrfcloud *c);
const char *nrfcloud_endpoint(const struct nrfcloud *c);

/* ---- calls ---- */

/* Upload CSV rows (no header, each ending in LF) as text/csv.  On
 * NRFCLOUD_OK, id holds the bulkOpsRequestId.  progress sees the bytes sent. */
enum nrfcloud_outcome nrfcloud_upload(struct nrfcloud *c, enum nrfcloud_upload_kind kind,
				      const char *csv, size_t len,
				      void (*progress)(void *ctx, size_t sent, size_t total),
				      void *progress_ctx, char id[NRFCLOUD_ID_MAX + 1],
				      struct nrfca_err *e);

struct nrfcloud_bulk {
	enum nrfcloud_status status;
	char *error_summary_url;     /* FAILED: where the errors are (malloc'd), or NULL */
};
void nrfcloud_bulk_clear(struct nrfcloud_bulk *b);

/* GET /v1/bulk-ops-requests/{id}. */
enum nrfcloud_outcome nrfcloud_bulk_status(struct nrfcloud *c, const char *id,
					   struct nrfcloud_bulk *b, struct nrfca_err *e);

struct nrfcloud_row_error {
	long row;                    /* 0-based row of the upload; -1: names no row */
	char *message;               /* printable, no control characters (malloc'd) */
};

/* Fetch errorSummaryUrl (without the API key: it is a link to another
 * host) and parse it.  rows = the number of rows uploaded: an index outside
 * them gives row -1. */
enum nrfcloud_outcome nrfcloud_error_summary(struct nrfcloud *c, const char *url, size_t rows,
					     struct nrfcloud_row_error **v, size_t *n,
					     struct nrfca_err *e);
void nrfcloud_row_errors_free(struct nrfcloud_row_error *v, size_t n);

/* GET /v1/devices/{id}: *exists = 1 on 200, 0 on 404. */
enum nrfcloud_outcome nrfcloud_device_exists(struct nrfcloud *c, const char *device_id,
					     int *exists, struct nrfca_err *e);

/* GET /v1/account (FetchAccountInfo) once, without retries: NRFCLOUD_AUTH
 * when the key is refused, NRFCLOUD_UNREACHABLE when nRF Cloud does not
 * answer now.  A station checks its key before it touches a modem. */
enum nrfcloud_outcome nrfcloud_check_key(struct nrfcloud *c, struct nrfca_err *e);

/* ---- parsers of untrusted answers (pure; fuzzed by fuzz_nrfcloud) ---- */

/* 202 answer: {"bulkOpsRequestId": "<1..64 of [A-Za-z0-9_-]>"}. */
int nrfcloud_parse_accepted(const char *body, size_t len, char id[NRFCLOUD_ID_MAX + 1],
			    struct nrfca_err *e);
/* FetchBulkOpsRequest answer: status (one of the four) and, when FAILED,
 * errorSummaryUrl (at most NRFCLOUD_MAX_URL printable characters). */
int nrfcloud_parse_bulk(const char *body, size_t len, struct nrfcloud_bulk *b,
			struct nrfca_err *e);
/* Error summary: {"errors": ["[<index>]: <message>", ...]}.  Entries that
 * do not have that form are kept with row -1 and their whole text. */
int nrfcloud_parse_error_summary(const char *body, size_t len, size_t rows,
				 struct nrfcloud_row_error **v, size_t *n, struct nrfca_err *e);
/* The 0-based row of the upload that an error summary index names, or -1.
 * nRF Cloud's documentation does not say which base the index has; Nordic's
 * nrf_cloud_onboard (nrfcloud-utils since commit 26ff48e, 2025) uses it as
 * the 0-based position among the uploaded rows (the upload has no header).
 * This one function holds that assumption. */
long nrfcloud_error_row(long index, size_t rows);

const char *nrfcloud_status_name(enum nrfcloud_status s);
const char *nrfcloud_outcome_name(enum nrfcloud_outcome o);

#endif
