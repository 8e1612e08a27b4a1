/*
 * identity.h - nRF Cloud's Identity Service as the judge of a modem's
 * attestation ("attestation": {"verify_with": "nrf-cloud-identity"}).
 *
 * Nordic exports every nRF91x1 modem's identity public key at SiP
 * production into the Identity Service; nobody else holds those keys, so a
 * CA that cannot check the COSE signature itself asks the service before it
 * signs.  This module sends the %KEYGEN token (the bare "<part1>.<part2>"
 * text) to the configured URL with the team's API key and maps the answer to
 * a verdict (policy.h, enum nrfca_identity_verdict).
 *
 * The exchange (policies/README.md, "nRF Cloud's Identity Service"):
 *   POST <url>  Authorization: Bearer <API key>  Content-Type: application/json
 *               {"token": "<part1>.<part2>"}
 *   200 {"verified": true|false, "uuid": "<8-4-4-4-12>", "reason": "..."}
 *       -> genuine / forged ("uuid", when present, must be the attested UUID)
 *   404 with a JSON object  -> unknown device (no identity key for the UUID)
 *   400, 422                -> forged (the service refuses the token)
 *   401, 403, 429, 5xx, any other status, a timeout, a transport error, an
 *   answer over IDENTITY_ANSWER_MAX bytes or not of that shape -> unavailable
 *
 * Behaviour a CA needs from a remote judge:
 *   - a short timeout for the whole exchange (timeout_ms);
 *   - a bounded cache of verdicts by SHA-256 of the token (genuine, forged
 *     and unknown device; never "unavailable"), so a station's retry and a
 *     replay do not ask again;
 *   - after a failure the service is not asked again for backoff_seconds:
 *     callers get "unavailable" at once with the seconds left (Retry-After),
 *     so a dead service cannot hold every request thread for the timeout;
 *   - the API key is read once from a file of mode 0600 (unless
 *     allow_insecure_key_file), kept in memory, wiped on identity_free, and
 *     never logged or put in an error message;
 *   - https only, except to a loopback host (tests, a local proxy); no
 *     redirects.
 *
 * Thread safety: identity_verify may be called from any number of threads
 * (libcurl easy handles per call, one shared connection cache).  The handle
 * owns its configuration copies, its cache and its API key.
 */
#ifndef NRFCA_IDENTITY_H
#define NRFCA_IDENTITY_H

#include <stddef.h>

#include "error.h"
#include "policy.h"

#define IDENTITY_ANSWER_MAX (16u << 10)   /* bytes of one answer body */
#define IDENTITY_KEY_MAX 512              /* bytes of the API key */
#define IDENTITY_TOKEN_MAX 8192           /* bytes of one token (NRFCA_MODEM_OUT_MAX) */
#define IDENTITY_URL_MAX 2048

struct identity_config {
	const char *url;              /* the verification endpoint */
	const char *api_key_file;     /* mode 0600 */
	int allow_insecure_key_file;  /* accept a key file readable by others */
	const char *ca_file;          /* PEM roots for the service's TLS certificate;
					 NULL = the system's store */
	unsigned timeout_ms;          /* whole exchange; 0 = 3000, at most 30000 */
	unsigned cache_entries;       /* 0 = 4096, at most 1048576 */
	unsigned cache_seconds;       /* how long a verdict is reused; 0 = 3600 */
	unsigned backoff_seconds;     /* after a failure; 0 = 5 */
};

struct identity;  /* opaque, thread-safe */

/* Check the configuration, read the API key.  Errors name the setting. */
int identity_open(const struct identity_config *c, struct identity **out, struct nrfca_err *err);
void identity_free(struct identity *s);

/*
 * The verdict about one token whose attestation names `uuid` (lower-case
 * 8-4-4-4-12).  `detail` (len bytes) gets one sentence for the answer or
 * the log, without secrets; *retry_after the seconds to announce when the
 * verdict is NRFCA_IDENTITY_UNAVAILABLE; *cached (may be NULL) 1 when the
 * verdict came from the cache.
 */
enum nrfca_identity_verdict identity_verify(struct identity *s, const char *token, size_t len,
					    const char *uuid, char *detail, size_t dlen,
					    unsigned *retry_after, int *cached);

/*
 * The answer mapping alone (untrusted input: used by identity_verify, the
 * unit tests and the fuzz target).  `status` is the HTTP status, `body` the
 * answer (len <= IDENTITY_ANSWER_MAX, not NUL-terminated), `retry_header`
 * the Retry-After header or NULL.  Never returns NRFCA_IDENTITY_NOT_ASKED.
 */
enum nrfca_identity_verdict identity_parse_answer(long status, const char *body, size_t len,
						  const char *retry_header, const char *uuid,
						  char *detail, size_t dlen,
						  unsigned *retry_after);

struct identity_stats {
	unsigned long long asked;      /* exchanges with the service */
	unsigned long long cache_hits;
	unsigned long long fast_fails; /* answered "unavailable" during a back-off */
};
void identity_get_stats(struct identity *s, struct identity_stats *out);

#endif
