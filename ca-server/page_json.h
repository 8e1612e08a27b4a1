/*
 * page_json.h - a page of ledger records as the body of GET /v1/certificates,
 * written straight into one growing buffer.
 *
 *   {"certificates":[RECORD,...],"next":"<serial>"|null}
 *
 * Each RECORD is exactly what json_dumps(ca_record_json(r), JSON_COMPACT)
 * writes with its "certificate" member left out (a list never carries the
 * certificates' PEM; a public-key registration keeps its "public_key"): the
 * same members in the same order, the same bytes.  A record whose text is
 * plain printable ASCII (every record nrfca writes) is written directly,
 * without a jansson tree, a PEM encoding of the certificate or a copy; any
 * other record goes through ca_record_json and jansson, so that its escaping
 * is jansson's own.  tests/unit/server/test_page_json.c holds the two paths
 * to the same bytes.
 *
 * Building a page of 1,000 this way costs about a microsecond per record
 * where the tree, the PEM and json_dumps cost about fifteen.
 *
 * Not thread-safe: one page per thread.  The page owns its buffer until
 * page_json_finish hands it over.
 */
#ifndef NRFCA_PAGE_JSON_H
#define NRFCA_PAGE_JSON_H

#include <stddef.h>

#include "ca.h"
#include "ledger.h"

struct page_json;

/* An empty page; NULL when out of memory.  ca is passed to ca_record_json. */
struct page_json *page_json_new(struct ca *ca);

/* Append one record.  0, or -1 (out of memory, or the record cannot be
 * encoded as JSON, e.g. text that is not UTF-8): the page holds the records
 * before it, and the caller stops listing. */
int page_json_add(struct page_json *p, const struct cert_record *r);

/* Close the page with "next" (a serial, or NULL for null) and hand over its
 * text: *body (NUL-terminated, free() it) and *len.  0, or -1 when out of
 * memory.  The page is freed either way. */
int page_json_finish(struct page_json *p, const char *next, char **body, size_t *len);

/* Free a page that was not finished.  NULL is fine. */
void page_json_free(struct page_json *p);

#endif
