/*
 * api_decode.h - decoding of untrusted HTTP request bodies, separate from
 * libmicrohttpd so that it can be unit-tested and fuzzed.
 *
 * Each decoder returns API_OK or the error code to answer with (400), and
 * a sentence in `why`.  Bodies are at most the configured max_body bytes
 * (the HTTP layer refuses larger ones with 413 before decoding).
 */
#ifndef NRFCA_API_DECODE_H
#define NRFCA_API_DECODE_H

#include <stddef.h>

#include <jansson.h>

#include "ca.h"

enum api_status {
	API_OK = 0,
	API_EMPTY_BODY,      /* "empty_body" */
	API_INVALID_JSON,    /* "invalid_json" (syntax, duplicate keys, too deep) */
	API_INVALID_REQUEST, /* "invalid_request" (types, unknown or missing fields) */
	API_STATUS_MAX
};
const char *api_status_code(enum api_status s);

/* Parse a JSON object body no deeper than max_depth.  On API_OK *out holds
 * a new reference. */
enum api_status api_parse_object(const char *body, size_t len, int max_depth, json_t **out,
				 char *why, size_t whylen);

/* Fill *er from a parsed enroll body; the strings in *er are borrowed from
 * `j`, which must outlive *er. */
enum api_status api_decode_enroll(json_t *j, struct enroll_req *er, char *why, size_t whylen);

/* The revocation body {"reason": "..."}; *reason is borrowed from j or NULL. */
enum api_status api_decode_revoke(json_t *j, const char **reason, char *why, size_t whylen);

/* Query values (the HTTP layer bounds their length). */

/* A serial as people copy it: hex in either case, optionally with colons
 * between bytes (openssl x509 -text) and leading zeros, into the ledger's
 * form (lower-case hex, even length, no leading zero byte). */
enum api_status api_serial(const char *in, char out[LEDGER_SERIAL_MAX + 1], char *why,
			   size_t whylen);

/* An RFC 3339 date ("2026-01-01", midnight UTC) or date-time
 * ("2026-01-01T10:00:00Z", "...T12:00:00.5+02:00"; 't', 'z' and a space
 * for 'T' accepted), or unix seconds (9 to 12 digits), into unix seconds. */
enum api_status api_time(const char *in, long long *out, char *why, size_t whylen);

#endif
