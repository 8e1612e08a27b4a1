/*
 * log.h - one JSON object per line on stderr.  Values are escaped; callers
 * never pass secrets (no PINs, no bearer tokens, no private keys).
 *
 *   nlog(LOG_INFO, "token_ready", "detail", "the token answers", NULL);
 *
 * Arguments after the event are key/value string pairs ending with NULL.
 */
#ifndef NRFCA_LOG_H
#define NRFCA_LOG_H

enum nlog_level { NLOG_DEBUG, NLOG_INFO, NLOG_WARN, NLOG_ERROR, NLOG_LEVEL_MAX };

void nlog(enum nlog_level level, const char *event, ...);
/* Like nlog, with one integer field `num_key` first. */
void nlog_num(enum nlog_level level, const char *event, const char *num_key, long long num, ...);
void nlog_set_min_level(enum nlog_level level);

#endif
