/*
 * jw.h - JSON written straight into one growing buffer, byte for byte as
 * jansson's json_dumps(..., JSON_COMPACT) writes the same values.
 *
 * For the server's hot answers (a list page of 1,000 records, the answer to
 * every enrollment): a jansson tree costs an allocation per member, a copy
 * and a UTF-8 check per string, then an escaping pass at the dump.  Here a
 * string is checked and copied once.  jw_str takes only text whose JSON form
 * is known without jansson (printable ASCII, CR and LF); for anything else
 * it fails and the caller writes that answer with jansson, so any escaping
 * stays jansson's own.
 *
 * Every call returns 0, or -1 (out of memory, or text jw_str does not take);
 * after a -1 the buffer holds what was written before the call that failed
 * started, plus possibly part of it: the caller rewinds with jw_rewind.
 */
#ifndef NRFCA_JW_H
#define NRFCA_JW_H

#include <stddef.h>

struct jw {
	char *buf;
	size_t len, cap;
};

/* An empty buffer of cap bytes (at least 64); -1 when out of memory. */
int jw_init(struct jw *w, size_t cap);
void jw_free(struct jw *w);
/* Hands the text (NUL-terminated) and its length over; the writer is empty. */
char *jw_take(struct jw *w, size_t *len);
static inline void jw_rewind(struct jw *w, size_t len) { w->len = len; }

/* Room for n more bytes at buf + len (the caller writes them and adds n to
 * len); NULL when out of memory. */
char *jw_reserve(struct jw *w, size_t n);
int jw_raw(struct jw *w, const char *s, size_t n);   /* as it is */
int jw_raws(struct jw *w, const char *s);            /* as it is, NUL-terminated */
/* A JSON string of s: printable ASCII (but '"' and '\\') as it is, and
 * line ends (PEM) as \n and \r; -1 for any other byte. */
int jw_str(struct jw *w, const char *s);
int jw_strn(struct jw *w, const char *s, size_t n);
int jw_key(struct jw *w, const char *key);           /* ,"key": */
int jw_member(struct jw *w, const char *key, const char *val);
int jw_opt(struct jw *w, const char *key, const char *val);  /* null for "" */
int jw_time(struct jw *w, const char *key, long long t);     /* ISO 8601 UTC */
int jw_llong(struct jw *w, long long v);
/* A JSON string of the PEM encoding of der ("-----BEGIN label-----",
 * 64-character base64 lines, "-----END label-----", each line ended), the
 * text PEM_write_bio writes with no headers. */
int jw_pem(struct jw *w, const char *label, const unsigned char *der, size_t len);

#endif
