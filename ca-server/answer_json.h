/*
 * answer_json.h - the body of a successful enrollment (201 issued, 200
 * replay), written straight into a buffer.
 *
 *   certificate:  {"serial":..,"device_id":..,"profile":..,"certificate":PEM,
 *                  "chain":PEM,"not_before":..,"not_after":..,
 *                  "sec_tag":N|null,"trust_bundle":PEM|null}
 *   registration: {"registration":true,"kind":"public_key","serial":..,
 *                  "device_id":..,"profile":..,"public_key":PEM,
 *                  "not_before":..,"not_after":..,"sec_tag":..,"trust_bundle":..}
 *
 * Every enrollment is answered this way, so its cost counts: the jansson
 * tree (answer_json_tree, the reference) copied and checked the chain and
 * the trust bundle, a few kilobytes of PEM, into the tree and escaped them
 * again at the dump, for every request; the certificate went through a PEM
 * BIO first.  answer_json_write writes the same bytes in one pass (the
 * PEM straight from the DER) and falls back to the tree for text it cannot
 * write exactly as jansson would (anything but printable ASCII and line
 * ends).  tests/unit/server/test_answer_json.c holds both to the same bytes.
 */
#ifndef NRFCA_ANSWER_JSON_H
#define NRFCA_ANSWER_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "ledger.h"

/* chain: the CA chain's PEM; tb/tbl: the profile's trust bundle or NULL. */
json_t *answer_json_tree(const char *chain, const char *tb, size_t tbl,
			 const struct cert_record *r);

/* The body (NUL-terminated, the caller frees it) and its length: 0 when
 * written directly, 1 when through jansson's tree; -1 when out of memory
 * or the record cannot be encoded. */
int answer_json_write(const char *chain, const char *tb, size_t tbl,
		      const struct cert_record *r, char **body, size_t *len);

#endif
