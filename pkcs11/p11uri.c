/*
 * p11uri.c - RFC 7512 PKCS#11 URIs: p11-kit parses, nrfca is strict.
 *
 * p11_kit_uri_parse() does the decoding and gives the attributes their
 * meaning (percent-decoding, token fields, CKA_LABEL, CKA_ID, CKA_CLASS,
 * module-path, pin-source).  It is lenient where a CA's configuration must
 * not be: it keeps the last of two equal attributes, strips white space,
 * keeps unknown query attributes as vendor queries, turns an over-long label
 * or an unknown path attribute into an anonymous "unrecognised" flag, and an
 * encoded NUL silently ends a string.  So check_part() first walks the
 * attribute names (which RFC 7512 never percent-encodes) and the shape of
 * each value, so that every refusal names the attribute and the reason.
 * docs/ARCHITECTURE.md ("Libraries") records the split.
 */
#include "p11uri.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "b64url.h"

enum attr_kind { A_STR, A_ID };

struct attr_def {
	const char *name;
	int query;          /* 1: query attribute, 0: path attribute */
	enum attr_kind kind;
	size_t max;         /* decoded length limit */
};

static const struct attr_def attrs[] = {
	{ "token", 0, A_STR, 32 },
	{ "serial", 0, A_STR, 16 },
	{ "manufacturer", 0, A_STR, 32 },
	{ "model", 0, A_STR, 16 },
	{ "object", 0, A_STR, 255 },
	{ "id", 0, A_ID, NRFCA_P11URI_ID_MAX },
	{ "type", 0, A_STR, 16 },
	{ "module-path", 1, A_STR, 1024 },
	{ "module-name", 1, A_STR, 255 },
	{ "pin-source", 1, A_STR, 1024 },
	{ "pin-value", 1, A_STR, 256 },
};
#define NATTRS (sizeof(attrs) / sizeof(attrs[0]))

/* RFC 7512 attributes nrfca does not act on, with the reason. */
static const char *refused_reason(const char *name)
{
	if (strncmp(name, "slot-", 5) == 0)
		return "nrfca selects the token by label or serial, never by slot";
	if (strncmp(name, "library-", 8) == 0)
		return "the module is chosen by module-path";
	return NULL;
}

/*
 * One value [s, s+n) of attribute `d`: escapes well formed, no white space
 * or control bytes (p11-kit would drop them), no encoded NUL in a string,
 * decoded length within the limit.
 */
static int check_value(const struct attr_def *d, const char *s, size_t n, struct nrfca_err *err)
{
	size_t i, decoded = 0;

	for (i = 0; i < n; i++, decoded++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= n)
				return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: '%s' has an "
						     "incomplete %%-escape", d->name);
			h = nrfca_hex_value(s[i + 1]);
			l = nrfca_hex_value(s[i + 2]);
			if (h < 0 || l < 0)
				return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: '%s' has an "
						     "invalid %%-escape '%%%c%c'", d->name, s[i + 1],
						     s[i + 2]);
			if (h == 0 && l == 0 && d->kind == A_STR)
				return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: '%s' contains "
						     "an encoded NUL byte", d->name);
			i += 2;
		} else if (c <= ' ' || c >= 0x7f) {
			return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: '%s' contains %s, "
					     "which must be %%-encoded as %%%02X", d->name,
					     c == ' ' ? "a space" : "a control or non-ASCII byte", c);
		}
	}
	if (decoded > d->max)
		return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: '%s' is %zu bytes long; at "
				     "most %zu are allowed", d->name, decoded, d->max);
	if (decoded == 0 && d->kind == A_ID)
		return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: 'id' is empty");
	return 0;
}

static const char *const type_names[] = { "cert", "public", "private", "secret-key", "data" };

static int type_known(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strlen(type_names[i]) == n && memcmp(type_names[i], v, n) == 0)
			return 1;
	return 0;
}

/* The attributes of the path (query = 0) or query part [s, s+n). */
static int check_part(const char *s, size_t n, int query, unsigned *seen, struct nrfca_err *err)
{
	char sep = query ? '&' : ';';
	const char *end = s + n;

	while (s < end) {
		const char *e = memchr(s, sep, (size_t)(end - s));
		const struct attr_def *d = NULL;
		const char *eq, *why;
		size_t i, alen, nlen;
		char name[32];

		if (e == NULL)
			e = end;
		alen = (size_t)(e - s);
		if (alen == 0)
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "PKCS#11 URI: empty attribute (two '%c' in a row)", sep);
		eq = memchr(s, '=', alen);
		if (eq == NULL)
			return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: attribute '%.*s' has "
					     "no '=value'", (int)(alen > 40 ? 40 : alen), s);
		nlen = (size_t)(eq - s);
		if (nlen == 0 || nlen >= sizeof(name))
			return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: invalid attribute "
					     "name in '%.*s'", (int)(alen > 40 ? 40 : alen), s);
		memcpy(name, s, nlen);
		name[nlen] = '\0';
		for (i = 0; i < NATTRS && d == NULL; i++)
			if (strcmp(attrs[i].name, name) == 0)
				d = &attrs[i];
		if (d == NULL) {
			why = refused_reason(name);
			return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: unknown attribute "
					     "'%.32s'%s%s%s", name, why ? " (" : "", why ? why : "",
					     why ? ")" : "");
		}
		if (d->query != query)
			return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: '%s' belongs in the "
					     "%s part", name, d->query ? "query (after '?')" :
					     "path (before '?')");
		if (*seen & (1u << (d - attrs)))
			return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: '%s' is given twice",
					     name);
		*seen |= 1u << (d - attrs);
		if (check_value(d, eq + 1, (size_t)(e - eq - 1), err) != 0)
			return -1;
		if (strcmp(name, "type") == 0 && !type_known(eq + 1, (size_t)(e - eq - 1)))
			return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: 'type' is '%.*s'; it "
					     "must be one of cert, public, private, secret-key, data",
					     (int)((size_t)(e - eq - 1) > 16 ? 16 : (size_t)(e - eq - 1)),
					     eq + 1);
		s = e + (e < end ? 1 : 0);
		if (e < end && s == end)
			return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: trailing '%c'", sep);
	}
	return 0;
}

/* A space-padded PKCS#11 field as a string; NULL when the URI left it out
 * (p11-kit leaves such a field all zero). */
static int field_dup(const unsigned char *f, size_t n, char **out)
{
	size_t len = n;

	*out = NULL;
	if (f[0] == '\0')
		return 0;
	while (len > 0 && f[len - 1] == ' ')
		len--;
	*out = strndup((const char *)f, len);
	return *out == NULL ? -1 : 0;
}

static int str_dup(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return 0;
	*out = strdup(s);
	return *out == NULL ? -1 : 0;
}

static const char *class_name(CK_OBJECT_CLASS c)
{
	switch (c) {
	case CKO_CERTIFICATE: return type_names[0];
	case CKO_PUBLIC_KEY: return type_names[1];
	case CKO_PRIVATE_KEY: return type_names[2];
	case CKO_SECRET_KEY: return type_names[3];
	case CKO_DATA: return type_names[4];
	default: return NULL;
	}
}

/* Copy what p11-kit parsed into `u`. */
static int copy_out(P11KitUri *k, struct p11uri *u, struct nrfca_err *err)
{
	CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(k);
	CK_ATTRIBUTE *a;

	if (field_dup(ti->label, sizeof(ti->label), &u->token) != 0 ||
	    field_dup(ti->serialNumber, sizeof(ti->serialNumber), &u->serial) != 0 ||
	    field_dup(ti->manufacturerID, sizeof(ti->manufacturerID), &u->manufacturer) != 0 ||
	    field_dup(ti->model, sizeof(ti->model), &u->model) != 0 ||
	    str_dup(p11_kit_uri_get_module_path(k), &u->module_path) != 0 ||
	    str_dup(p11_kit_uri_get_module_name(k), &u->module_name) != 0 ||
	    str_dup(p11_kit_uri_get_pin_source(k), &u->pin_source) != 0 ||
	    str_dup(p11_kit_uri_get_pin_value(k), &u->pin_value) != 0)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	a = p11_kit_uri_get_attribute(k, CKA_LABEL);
	if (a != NULL && (u->object = strndup(a->pValue, a->ulValueLen)) == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	a = p11_kit_uri_get_attribute(k, CKA_ID);
	if (a != NULL) {
		if (a->ulValueLen == 0 || a->ulValueLen > sizeof(u->id))
			return nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: 'id' is empty or "
					     "longer than %zu bytes", sizeof(u->id));
		memcpy(u->id, a->pValue, a->ulValueLen);
		u->id_len = a->ulValueLen;
	}
	a = p11_kit_uri_get_attribute(k, CKA_CLASS);
	if (a != NULL && a->ulValueLen == sizeof(CK_OBJECT_CLASS)) {
		const char *t = class_name(*(CK_OBJECT_CLASS *)a->pValue);

		if (t == NULL || (u->type = strdup(t)) == NULL)
			return nrfca_err_set(err, NRFCA_E_INTERNAL, "PKCS#11 URI: unexpected type");
	}
	return 0;
}

int p11uri_parse(const char *text, struct p11uri *out, struct nrfca_err *err)
{
	struct p11uri u;
	P11KitUri *k = NULL;
	const char *q, *body;
	unsigned seen = 0;
	size_t len;
	int r;

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
	if (check_part(body, q ? (size_t)(q - body) : strlen(body), 0, &seen, err) != 0 ||
	    (q != NULL && check_part(q + 1, strlen(q + 1), 1, &seen, err) != 0))
		return -1;
	k = p11_kit_uri_new();
	if (k == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	r = p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, k);
	if (r != P11_KIT_URI_OK) {
		nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: %s", p11_kit_uri_message(r));
		goto fail;
	}
	if (p11_kit_uri_any_unrecognized(k)) {
		/* check_part() lets through nothing p11-kit should flag */
		nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: p11-kit does not recognise "
			      "part of '%.60s'", text);
		goto fail;
	}
	if (copy_out(k, &u, err) != 0)
		goto fail;
	p11_kit_uri_free(k);
	*out = u;
	return 0;
fail:
	p11_kit_uri_free(k);
	p11uri_clear(&u);
	return -1;
}

char *p11uri_engine_text(const char *text, const char *pin_source, struct nrfca_err *err)
{
	CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE cls = { CKA_CLASS, &priv, sizeof(priv) };
	P11KitUri *k = p11_kit_uri_new();
	char *out = NULL;

	if (k == NULL) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		return NULL;
	}
	if (p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, k) != P11_KIT_URI_OK) {
		nrfca_err_set(err, NRFCA_E_INPUT, "PKCS#11 URI: p11-kit cannot parse it");
		goto out;
	}
	p11_kit_uri_set_module_path(k, NULL);
	p11_kit_uri_set_module_name(k, NULL);
	p11_kit_uri_set_pin_source(k, pin_source);
	if (p11_kit_uri_get_attribute(k, CKA_CLASS) == NULL &&
	    p11_kit_uri_set_attribute(k, &cls) != P11_KIT_URI_OK) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	if (p11_kit_uri_format(k, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &out) != P11_KIT_URI_OK) {
		nrfca_err_set(err, NRFCA_E_INTERNAL, "PKCS#11 URI: p11-kit cannot format it");
		out = NULL;
	}
out:
	p11_kit_uri_free(k);
	return out;
}

static void wipe(char **s)
{
	if (*s != NULL)
		OPENSSL_clear_free(*s, strlen(*s));
	*s = NULL;
}

void p11uri_clear(struct p11uri *u)
{
	if (u == NULL)
		return;
	wipe(&u->token);
	wipe(&u->serial);
	wipe(&u->manufacturer);
	wipe(&u->model);
	wipe(&u->object);
	wipe(&u->type);
	wipe(&u->module_path);
	wipe(&u->module_name);
	wipe(&u->pin_source);
	wipe(&u->pin_value);
	OPENSSL_cleanse(u->id, sizeof(u->id));
	u->id_len = 0;
}
