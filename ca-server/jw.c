/*
 * jw.c - JSON written straight into a buffer (see jw.h).
 */
#include "jw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "timefmt.h"

static int grow(struct jw *w, size_t more)
{
	size_t cap = w->cap;
	char *nb;

	if (w->len + more + 1 <= cap)
		return 0;
	while (w->len + more + 1 > cap)
		cap *= 2;
	nb = realloc(w->buf, cap);
	if (nb == NULL)
		return -1;
	w->buf = nb;
	w->cap = cap;
	return 0;
}

int jw_init(struct jw *w, size_t cap)
{
	w->len = 0;
	w->cap = cap < 64 ? 64 : cap;
	w->buf = malloc(w->cap);
	return w->buf != NULL ? 0 : -1;
}

void jw_free(struct jw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

char *jw_take(struct jw *w, size_t *len)
{
	char *b = w->buf;

	b[w->len] = '\0';
	*len = w->len;
	memset(w, 0, sizeof(*w));
	return b;
}

char *jw_reserve(struct jw *w, size_t n)
{
	return grow(w, n) == 0 ? w->buf + w->len : NULL;
}

int jw_raw(struct jw *w, const char *s, size_t n)
{
	if (grow(w, n) != 0)
		return -1;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	return 0;
}

int jw_raws(struct jw *w, const char *s)
{
	return jw_raw(w, s, strlen(s));
}

int jw_strn(struct jw *w, const char *s, size_t n)
{
	size_t i, extra = 0;
	char *o;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' || c == '\r')
			extra++;
		else if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			return -1;
	}
	if (grow(w, n + extra + 2) != 0)
		return -1;
	o = w->buf + w->len;
	*o++ = '"';
	if (extra == 0) {
		memcpy(o, s, n);
		o += n;
	} else {
		for (i = 0; i < n; i++) {
			if (s[i] == '\n' || s[i] == '\r') {
				*o++ = '\\';
				*o++ = s[i] == '\n' ? 'n' : 'r';
			} else {
				*o++ = s[i];
			}
		}
	}
	*o++ = '"';
	w->len = (size_t)(o - w->buf);
	return 0;
}

int jw_str(struct jw *w, const char *s)
{
	return jw_strn(w, s, strlen(s));
}

int jw_key(struct jw *w, const char *key)
{
	return jw_raws(w, ",\"") || jw_raws(w, key) || jw_raws(w, "\":");
}

int jw_member(struct jw *w, const char *key, const char *val)
{
	return jw_key(w, key) || jw_str(w, val);
}

int jw_opt(struct jw *w, const char *key, const char *val)
{
	return jw_key(w, key) || (val[0] != '\0' ? jw_str(w, val) : jw_raws(w, "null"));
}

int jw_time(struct jw *w, const char *key, long long t)
{
	char iso[NRFCA_TIME_ISO_LEN];

	nrfca_time_iso(t, iso);
	return jw_member(w, key, iso);
}

int jw_llong(struct jw *w, long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", v);
	return jw_raws(w, num);
}

int jw_pem(struct jw *w, const char *label, const unsigned char *der, size_t len)
{
	size_t lines = (len + 47) / 48, i;
	char *o;

	/* "-----BEGIN " label "-----\n", 64 characters and "\n" a line,
	 * "-----END " label "-----\n"; every "\n" written as two bytes */
	if (grow(w, 2 * (strlen(label) + 18) + 10 + lines * 66 + 2) != 0)
		return -1;
	o = w->buf + w->len;
	o += sprintf(o, "\"-----BEGIN %s-----\\n", label);
	for (i = 0; i < len; i += 48) {
		size_t n = len - i < 48 ? len - i : 48;

		o += EVP_EncodeBlock((unsigned char *)o, der + i, (int)n);
		*o++ = '\\';
		*o++ = 'n';
	}
	o += sprintf(o, "-----END %s-----\\n\"", label);
	w->len = (size_t)(o - w->buf);
	return 0;
}
