#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

static const char *const errc_names[NRFCA_E_MAX] = {
	[NRFCA_OK] = "ok",
	[NRFCA_E_INPUT] = "input",
	[NRFCA_E_TOO_LARGE] = "too_large",
	[NRFCA_E_BINDING] = "binding",
	[NRFCA_E_CRYPTO] = "crypto",
	[NRFCA_E_IO] = "io",
	[NRFCA_E_CONFIG] = "config",
	[NRFCA_E_TOKEN] = "token",
	[NRFCA_E_PIN] = "pin",
	[NRFCA_E_NOTFOUND] = "not_found",
	[NRFCA_E_EXISTS] = "exists",
	[NRFCA_E_NOMEM] = "nomem",
	[NRFCA_E_DB] = "database",
	[NRFCA_E_POLICY] = "policy",
	[NRFCA_E_CONFLICT] = "conflict",
	[NRFCA_E_INTERNAL] = "internal",
	[NRFCA_E_STALE] = "stale",
};

const char *nrfca_errc_name(enum nrfca_errc code)
{
	if ((unsigned)code >= NRFCA_E_MAX)
		return "unknown";
	return errc_names[code];
}

static void vset(struct nrfca_err *e, enum nrfca_errc code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void vset(struct nrfca_err *e, enum nrfca_errc code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int nrfca_err_set(struct nrfca_err *e, enum nrfca_errc code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

int nrfca_err_ssl(struct nrfca_err *e, enum nrfca_errc code, const char *fmt, ...)
{
	va_list ap;
	unsigned long l = ERR_peek_last_error();
	char buf[160];
	size_t n;

	if (e != NULL) {
		va_start(ap, fmt);
		vset(e, code, fmt, ap);
		va_end(ap);
		if (l != 0) {
			ERR_error_string_n(l, buf, sizeof(buf));
			n = strlen(e->msg);
			snprintf(e->msg + n, sizeof(e->msg) - n, " (%s)", buf);
		}
	}
	ERR_clear_error();
	return -1;
}

void nrfca_err_prefix(struct nrfca_err *e, const char *fmt, ...)
{
	char old[NRFCA_ERR_MSG_MAX];
	va_list ap;
	int n;

	if (e == NULL)
		return;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(e->msg) - 3)
		return;
	snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %.*s",
		 (int)(sizeof(e->msg) - (size_t)n - 3), old);
}

void nrfca_err_clear(struct nrfca_err *e)
{
	if (e == NULL)
		return;
	e->code = NRFCA_OK;
	e->msg[0] = '\0';
}
