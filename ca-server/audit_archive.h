/*
 * audit_archive.h - the audit log exported for an external archive, and
 * its verification without the ledger.
 *
 * An archive is JSON Lines (UTF-8, one object per line, LF):
 *   1. a header: {"format": "nrfca-audit-archive", "version": 1,
 *      "exported_at": RFC 3339, "exported_by": actor, "after_id": N,
 *      "first_prev_hash": hex | null}
 *   2. one line per audit entry, in id order from N + 1 without gaps:
 *      {"id", "at" (unix seconds), "time" (RFC 3339, for people), "actor",
 *      "event", "detail" (the entry's JSON detail as a string, byte for byte
 *      what was hashed), "prev_hash", "hash" (64 lower-case hex digits)}
 *   3. a trailer: {"entries": K, "last_id": M, "last_hash": hex | null}
 * Each hash is SHA-256(prev_hash || be64(id) || be64(at) || be32(len) actor
 * || be32(len) event || be32(len) detail) (ledger.h); the first entry's
 * prev_hash is 32 zero bytes when N = 0, else the hash of entry N, which the
 * previous archive's trailer names.  docs/AUDIT.md shows a verifier in a
 * few lines of Python.
 *
 * Limits: a line is at most AUDIT_ARCHIVE_LINE_MAX bytes; an archive is
 * read line by line (any size).
 */
#ifndef NRFCA_AUDIT_ARCHIVE_H
#define NRFCA_AUDIT_ARCHIVE_H

#include <stdio.h>

#include "error.h"
#include "ledger.h"

#define AUDIT_ARCHIVE_LINE_MAX (128u * 1024)

/* ---- writing (nrfca-admin audit export) ---- */
struct audit_archive_writer; /* opaque: one archive being written */

struct audit_archive_writer *audit_archive_begin(FILE *out, long long after_id,
						 const char *exported_by);
/* Append one entry (the header is written before the first). */
int audit_archive_entry(struct audit_archive_writer *w, const struct ledger_audit_entry *e,
			struct nrfca_err *err);
/* Write the trailer (and the header when there was no entry), free w.
 * *entries, last_id and last_hash (may be NULL) say what was written. */
int audit_archive_end(struct audit_archive_writer *w, long long *entries, long long *last_id,
		      unsigned char last_hash[32], struct nrfca_err *err);

/* ---- verifying (nrfca-admin audit verify --archive) ---- */
struct audit_archive_result {
	long long after_id;
	int has_first_prev;
	unsigned char first_prev[32];   /* the hash this archive continues from */
	long long entries, first_id, last_id;
	int has_last;
	unsigned char last_hash[32];
	long long line;                 /* where it broke (1-based), 0 when intact */
	char why[256];
};

/* Read an archive and check everything above.  0 intact (r says what it
 * holds), 1 broken (r->line and r->why say where and why), -1 read error. */
int audit_archive_verify(FILE *in, struct audit_archive_result *r, struct nrfca_err *err);
/* The same over bytes in memory (tests, fuzzing). */
int audit_archive_verify_buf(const char *buf, size_t len, struct audit_archive_result *r);

#endif
