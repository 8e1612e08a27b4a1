/*
 * devlist.h - the expected devices of a manufacturing order, as a file for
 * `nrfca-admin devices import FILE --station S | --group G`.
 *
 * The file is text (at most DEVLIST_FILE_MAX bytes, DEVLIST_DEVICES_MAX
 * devices), in one of two forms, told apart by its first line that is not
 * blank or a comment:
 *
 *   one device id per line         a CSV with a header
 *   # order 4711, line 3           # order 4711
 *   50363154-3931-44f0-...         serial,device_id,imei
 *   352656109480783                A17,50363154-3931-44f0-...,352656109480783
 *   nrf-352656109480783            "A18",5036...,
 *
 * A CSV header names a `device_id`, `uuid` or `imei` column (any case; the
 * first of them is used, other columns are ignored); fields may be quoted
 * ("" is a quote inside a quoted field).  Blank lines and lines starting
 * with `#` are ignored in both forms; CR LF line ends are accepted.
 *
 * A device id is a device UUID (8-4-4-4-12, any case; stored in lower case),
 * a 15-digit IMEI with a valid Luhn check digit, or nrf-<IMEI> (stored as
 * the 15 digits).  These are the identifiers the policy matches a request
 * by (the attested UUID, the CN, the IMEI in the CN, the IMEI the station
 * read).  Anything else is an error naming the line; up to DEVLIST_ERRORS_MAX
 * errors are reported and nothing is imported when there is one.  A device
 * listed twice is imported once (counted as a duplicate).
 */
#ifndef NRFCA_DEVLIST_H
#define NRFCA_DEVLIST_H

#include <stddef.h>

#include "error.h"

#define DEVLIST_FILE_MAX (64u << 20)     /* bytes */
#define DEVLIST_DEVICES_MAX 1000000u
#define DEVLIST_LINE_MAX 4096            /* characters of one line */
#define DEVLIST_ID_MAX 36                /* a UUID */
#define DEVLIST_ERRORS_MAX 20

struct devlist {
	char **ids;            /* normalised, unique, in file order */
	size_t n;
	size_t lines;          /* lines read */
	size_t duplicates;     /* ids listed more than once */
	int csv;               /* 1: the CSV form */
	char column[32];       /* CSV: the column used */
};

/* Called every few thousand lines while parsing (may be NULL). */
typedef void (*devlist_progress_fn)(void *arg, size_t lines, size_t bytes_done, size_t bytes);

/*
 * Parse `len` bytes named `name` (for messages).  0: *out filled (free with
 * devlist_free).  -1: err has the first problem; `report` (may be NULL)
 * receives one line per problem, "NAME line N: reason", at most
 * DEVLIST_ERRORS_MAX of them.
 */
int devlist_parse(const char *buf, size_t len, const char *name, struct devlist *out,
		  char *report, size_t report_len, devlist_progress_fn progress, void *arg,
		  struct nrfca_err *err);
void devlist_free(struct devlist *l);

/* Normalise one device id as above into out (DEVLIST_ID_MAX + 1 bytes);
 * 0, or -1 with a reason in why (why_len bytes). */
int devlist_normalise(const char *s, size_t len, char *out, char *why, size_t why_len);

#endif
