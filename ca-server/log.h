/*
 * log.h - one JSON object per line on stderr.
 *
 * Every line is {"ts": "...Z", "level": "...", "event": "...", fields...},
 * encoded by jansson (so every value is escaped and typed: numbers are JSON
 * numbers, a missing string is null) into one buffer and written with one
 * write(2): lines of concurrent threads never interleave and a line costs
 * one system call.  Strings that are not UTF-8 are logged with '?' for the
 * bad bytes.  Callers never pass secrets (no PINs, no bearer tokens, no
 * private keys, no request bodies).
 *
 *   nlog(NLOG_INFO, "token_ready", "detail", "the token answers", NULL);
 *   struct nlog_field f[] = { NLOG_STR("route", "enroll"), NLOG_INT("status", 201),
 *                             NLOG_REAL("ms", 3.2) };
 *   nlog_fields(NLOG_INFO, "request", f, 3);
 *
 * nlog's arguments after the event are key/value string pairs ending with NULL.
 */
#ifndef NRFCA_LOG_H
#define NRFCA_LOG_H

#include <stddef.h>

#include <jansson.h>

enum nlog_level { NLOG_DEBUG, NLOG_INFO, NLOG_WARN, NLOG_ERROR, NLOG_LEVEL_MAX };

enum nlog_type { NLOG_T_STR, NLOG_T_INT, NLOG_T_REAL, NLOG_T_BOOL };

/* One typed field of a line. */
struct nlog_field {
	const char *key;
	enum nlog_type type;
	const char *s;              /* NLOG_T_STR; NULL is logged as null */
	long long i;                /* NLOG_T_INT; NLOG_T_BOOL (0 or not) */
	double d;                   /* NLOG_T_REAL */
};
#define NLOG_STR(k, v)  { (k), NLOG_T_STR, (v), 0, 0.0 }
#define NLOG_INT(k, v)  { (k), NLOG_T_INT, NULL, (long long)(v), 0.0 }
#define NLOG_REAL(k, v) { (k), NLOG_T_REAL, NULL, 0, (double)(v) }
#define NLOG_BOOL(k, v) { (k), NLOG_T_BOOL, NULL, (v) ? 1 : 0, 0.0 }

void nlog(enum nlog_level level, const char *event, ...);
/* Like nlog, with one integer field `num_key` first. */
void nlog_num(enum nlog_level level, const char *event, const char *num_key, long long num, ...);
/* A line with n typed fields, in order. */
void nlog_fields(enum nlog_level level, const char *event, const struct nlog_field *f, size_t n);
void nlog_set_min_level(enum nlog_level level);

/* A JSON string of s (new reference; JSON null for NULL) with every byte
 * that is not ASCII replaced by '?' when s is not valid UTF-8: for text that
 * comes from outside (a request's method or path) in log lines and answers. */
json_t *nlog_json_str(const char *s);

/* The log's destination: a file descriptor (default 2, stderr).  For tests
 * and tools; not thread-safe against concurrent logging. */
void nlog_set_fd(int fd);

#endif
