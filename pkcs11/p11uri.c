#include "p11uri.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "b64url.h"

enum attr_kind { A_STR, A_ID };

struct attr_def {
	const char *name;
	int query;          /* 1: query attribute, 0: path attribute */
	enum attr_kind kind;
	size_t max;         /* decoded length limit */
	size_t off;         /* offset of the char * in struct p11uri */
};

#define OFF(f) offsetof(struct p11uri, f)
static const struct attr_def attrs[] = {
	{ "token", 0, A_STR, 32, OFF(token) },
	{ "serial", 0, A_STR, 16, OFF(serial) },
	{ "manufacturer", 0, A_STR, 32, OFF(manufacturer) },
	{ "model", 0, A_STR, 16, OFF(model) },
	{ "object", 0, A_STR, 255, OFF(object) },
	{ "id", 0, A_ID, NRFCA_P11URI_ID_MAX, 0 },
	{ "type", 0, A_STR, 16, OFF(type) },
	{ "module-path", 1, A_STR, 1024, OFF(module_path) },
	{ "module-name", 1, A_STR, 255, OFF(module_name) },
	{ "pin-source", 1, A_STR, 1024, OFF(pin_source) },
	{ "pin-value", 1, A_STR, 256, OFF(pin_value) },
};

/* RFC 7512 pchar/qchar: unreserved, pct-encoded and a few sub-delims. */
static int allowed_char(int c, int query)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	if (strchr("-._~:[]@!$'()*+,=", c) != NULL)
		return 1;
	if (c == '&')
		return !query;
	if (c == '/' || c == '?' || c == '|')
		return query;
	return 0;
}

/* Percent-decode [s, s+n) into a new buffer; refuses bytes outside the
 * RFC 7512 character set, bad escapes, NUL bytes (for strings) and values
 * longer than max. */
static int decode(const char *name, const char *s, size_t n, int query, enum attr_kind kind,
		  size_t max, unsigned char **out, size_t *outlen, struct nrfca_err *err)
{
	unsigned char *buf;
	size_t i, o = 0;

	buf = malloc(n + 1);
	if (buf == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= n) {
				free(buf);
				return nrfca_err_set(err, NRFCA_E_INPUT,
						     "PKCS#11 URI: '%s' has an incomplete %%-escape", name);
			}
			h = nrfca_hex_value(s[i + 1]);
			l = nrfca_hex_value(s[i + 2]);
			if (h < 0 || l < 0) {
				free(buf);
				return nrfca_err_set(err, NRFCA_E_INPUT,
						     "PKCS#11 URI: '%s' has an invalid %%-escape '%%%c%c'",
						     name, s[i + 1], s[i + 2]);
			}
			c = h * 16 + l;
			i += 2;
			if (c == 0 && kind == A_STR) {
				free(buf);
				return nrfca_err_set(err, NRFCA_E_INPUT,
						     "PKCS#11 URI: '%s' contains an encoded NUL byte", name);
			}
		} else if (!allowed_char(c, query)) {
			free(buf);
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "PKCS#11 URI: '%s' contains the character '%c', which must be %%-encoded",
					     name, c >= 32 && c < 127 ? c : '?');
		}
		buf[o++] = (unsigned char)c;
	}
	if (o > max) {
		free(buf);
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "PKCS#11 URI: '%s' is %zu bytes long; at most %zu are allowed",
				     name, o, max);
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return 0;
}

static int parse_part(const char *s, size_t n, int query, struct p11uri *u, struct nrfca_err *err)
{
	char sep = query ? '&' : ';';
	const char *end = s + n;

	while (s < end) {
		const char *e = memchr(s, sep, (size_t)(end - s));
		const char *eq;
		const struct attr_def *def = NULL;
		size_t i, nlen, attrlen;
		unsigned char *val = NULL;
		size_t vlen = 0;
		char name[32];

		if (e == NULL)
			e = end;
		attrlen = (size_t)(e - s);
		if (attrlen == 0)
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "PKCS#11 URI: empty attribute (two '%c' in a row)", sep);
		eq = memchr(s, '=', attrlen);
		if (eq == NULL)
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "PKCS#11 URI: attribute '%.*s' has no '=value'",
					     (int)(attrlen > 40 ? 40 : attrlen), s);
		nlen = (size_t)(eq - s);
		if (nlen == 0 || nlen >= sizeof(name))
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "PKCS#11 URI: invalid attribute name in '%.*s'",
					     (int)(attrlen > 40 ? 40 : attrlen), s);
		memcpy(name, s, nlen);
		name[nlen] = '\0';
		for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
			if (strcmp(attrs[i].name, name) == 0)
				def = &attrs[i];
		if (def == NULL)
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "PKCS#11 URI: unknown attribute '%s'", name);
		if (def->query != query)
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "PKCS#11 URI: '%s' belongs in the %s part", name,
					     def->query ? "query (after '?')" : "path (before '?')");
		if (decode(name, eq + 1, (size_t)(e - eq - 1), query, def->kind, def->max, &val, &vlen,
			   err) != 0)
			return -1;
		if (def->kind == A_ID) {
			if (u->id_len != 0 || vlen == 0) {
				free(val);
				return nrfca_err_set(err, NRFCA_E_INPUT, vlen == 0 ?
						     "PKCS#11 URI: 'id' is empty" :
						     "PKCS#11 URI: 'id' is given twice");
			}
			memcpy(u->id, val, vlen);
			u->id_len = vlen;
			free(val);
		} else {
			char **slot = (char **)((char *)u + def->off);

			if (*slot != NULL) {
				OPENSSL_clear_free(val, vlen);
				return nrfca_err_set(err, NRFCA_E_INPUT,
						     "PKCS#11 URI: '%s' is given twice", name);
			}
			*slot = (char *)val;
		}
		s = e + (e < end ? 1 : 0);
		if (e < end && s == end)
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "PKCS#11 URI: trailing '%c'", sep);
	}
	return 0;
}

int p11uri_parse(const char *text, struct p11uri *out, struct nrfca_err *err)
{
	struct p11uri u;
	size_t len;
	const char *q, *body;

	memset(&u, 0, sizeof(u));
	if (text == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI is missing");
	len = strnlen(text, NRFCA_P11URI_MAX + 1);
	if (len > NRFCA_P11URI_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "PKCS#11 URI is longer than %d bytes", NRFCA_P11URI_MAX);
	if (strncmp(text, "pkcs11:", 7) != 0)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "PKCS#11 URI must start with 'pkcs11:' (got '%.20s')", text);
	body = text + 7;
	q = strchr(body, '?');
	if (parse_part(body, q ? (size_t)(q - body) : strlen(body), 0, &u, err) != 0)
		goto fail;
	if (q != NULL && parse_part(q + 1, strlen(q + 1), 1, &u, err) != 0)
		goto fail;
	*out = u;
	return 0;
fail:
	p11uri_clear(&u);
	return -1;
}

void p11uri_clear(struct p11uri *u)
{
	size_t i;

	if (u == NULL)
		return;
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		if (attrs[i].kind == A_STR) {
			char **slot = (char **)((char *)u + attrs[i].off);

			if (*slot != NULL)
				OPENSSL_clear_free(*slot, strlen(*slot));
			*slot = NULL;
		}
	}
	OPENSSL_cleanse(u->id, sizeof(u->id));
	u->id_len = 0;
}
