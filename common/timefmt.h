/*
 * timefmt.h - times as people and other tools write them: RFC 3339 in UTC
 * out, RFC 3339 dates and date-times (any offset) in.  Times are unix
 * seconds (long long).  No state; thread-safe.
 */
#ifndef NRFCA_TIMEFMT_H
#define NRFCA_TIMEFMT_H

#define NRFCA_TIME_ISO_LEN 32  /* "2026-03-02T10:15:04Z" and its NUL, with room */
#define NRFCA_TIME_INPUT_MAX 40

/* "YYYY-MM-DDTHH:MM:SSZ" (UTC). */
void nrfca_time_iso(long long t, char out[NRFCA_TIME_ISO_LEN]);

/* Parse an RFC 3339 date ("2026-03-02", read as 00:00:00 UTC) or date-time
 * ("2026-03-02T10:15:04Z", "...T10:15:04.250+01:00", "t" and " " accepted
 * for "T", fractions dropped).  At most NRFCA_TIME_INPUT_MAX characters,
 * years 1970..9999, every field range-checked (no 2026-02-30).  0 with *out
 * set, or -1 when s is not such a time (nothing else is accepted: no
 * trailing text, no unix seconds). */
int nrfca_time_parse(const char *s, long long *out);

#endif
