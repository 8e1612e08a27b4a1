#include "sim_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void sbuf_init(struct sbuf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit ? limit : SBUF_DEFAULT_LIMIT;
}

void sbuf_free(struct sbuf *b)
{
	if (b->p != NULL) {
		OPENSSL_cleanse(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL;
	b->len = b->cap = 0;
}

void sbuf_reset(struct sbuf *b)
{
	b->len = 0;
	b->failed = false;
}

static bool grow(struct sbuf *b, size_t n)
{
	size_t want, ncap;
	uint8_t *np;

	if (b->failed)
		return false;
	if (n > b->limit || b->len > b->limit - n) {
		b->failed = true;
		return false;
	}
	want = b->len + n;
	if (want <= b->cap)
		return true;
	ncap = b->cap ? b->cap : 64;
	while (ncap < want)
		ncap *= 2;
	if (ncap > b->limit)
		ncap = b->limit;
	np = malloc(ncap);
	if (np == NULL) {
		b->failed = true;
		return false;
	}
	if (b->p != NULL) {
		memcpy(np, b->p, b->len);
		OPENSSL_cleanse(b->p, b->cap);
		free(b->p);
	}
	b->p = np;
	b->cap = ncap;
	return true;
}

void sbuf_add(struct sbuf *b, const void *p, size_t n)
{
	if (n == 0 || !grow(b, n))
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void sbuf_addc(struct sbuf *b, uint8_t c)
{
	sbuf_add(b, &c, 1);
}

void sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->failed = true;
		return;
	}
	sbuf_add(b, tmp, (size_t)n);
}

void sbuf_addhex(struct sbuf *b, const uint8_t *p, size_t n, bool upper)
{
	const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		sbuf_addc(b, (uint8_t)d[p[i] >> 4]);
		sbuf_addc(b, (uint8_t)d[p[i] & 15]);
	}
}

void sbuf_addb64url(struct sbuf *b, const uint8_t *p, size_t n)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		sbuf_addc(b, (uint8_t)a[v >> 18 & 63]);
		sbuf_addc(b, (uint8_t)a[v >> 12 & 63]);
		sbuf_addc(b, (uint8_t)a[v >> 6 & 63]);
		sbuf_addc(b, (uint8_t)a[v & 63]);
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		sbuf_addc(b, (uint8_t)a[v >> 18 & 63]);
		sbuf_addc(b, (uint8_t)a[v >> 12 & 63]);
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		sbuf_addc(b, (uint8_t)a[v >> 18 & 63]);
		sbuf_addc(b, (uint8_t)a[v >> 12 & 63]);
		sbuf_addc(b, (uint8_t)a[v >> 6 & 63]);
	}
}
