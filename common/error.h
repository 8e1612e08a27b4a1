/*
 * error.h - the one error mechanism of nrfca.
 *
 * A function that can fail takes a `struct nrfca_err *` (may be NULL when
 * the caller does not care) and returns a status.  On failure it records a
 * category (what kind of failure, used to pick exit codes and HTTP status)
 * and one sentence a person can act on.  The message never holds a secret.
 */
#ifndef NRFCA_ERROR_H
#define NRFCA_ERROR_H

#include <stddef.h>

enum nrfca_errc {
	NRFCA_OK = 0,
	NRFCA_E_INPUT,       /* malformed input from outside */
	NRFCA_E_TOO_LARGE,   /* input over its size limit */
	NRFCA_E_BINDING,     /* attestation does not bind / verify */
	NRFCA_E_CRYPTO,      /* OpenSSL failure, bad signature */
	NRFCA_E_IO,          /* file or device I/O */
	NRFCA_E_CONFIG,      /* configuration mistake */
	NRFCA_E_TOKEN,       /* PKCS#11 token not available (retryable) */
	NRFCA_E_PIN,         /* wrong or locked PIN (never retried) */
	NRFCA_E_NOTFOUND,
	NRFCA_E_EXISTS,
	NRFCA_E_NOMEM,
	NRFCA_E_DB,          /* ledger unavailable (retryable) */
	NRFCA_E_POLICY,      /* refused by policy */
	NRFCA_E_CONFLICT,
	NRFCA_E_INTERNAL,
	NRFCA_E_STALE,       /* decided on facts that changed meanwhile: re-read, decide again */
	NRFCA_E_MAX
};

#define NRFCA_ERR_MSG_MAX 320

struct nrfca_err {
	enum nrfca_errc code;
	char msg[NRFCA_ERR_MSG_MAX];
};

/* Record an error; returns -1 so callers can `return nrfca_err_set(...)`. */
int nrfca_err_set(struct nrfca_err *e, enum nrfca_errc code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like nrfca_err_set, appending the first OpenSSL error reason, if any,
 * and clearing OpenSSL's error queue. */
int nrfca_err_ssl(struct nrfca_err *e, enum nrfca_errc code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix an existing message: "context: old message". */
void nrfca_err_prefix(struct nrfca_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void nrfca_err_clear(struct nrfca_err *e);

/* Short stable name of a category, e.g. "input", "token". */
const char *nrfca_errc_name(enum nrfca_errc code);

#endif
