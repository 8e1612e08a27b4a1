/*
 * policy_load.c - read and validate a policy file (format: README.md).
 *
 * Every refusal names the file, the JSON path of the offending value and the
 * reason: "policies/default.json: $.profiles[\"imei\"].cn.pattern: ...".
 */
#include "datadir.h"
#include "policy_int.h"
#include "fileutil.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#define PATH_BUF 256

struct ld {
	const char *file;      /* name used in messages */
	const char *base_dir;  /* relative paths resolve here */
	char *trust_dir;       /* relative trust_bundle names resolve here */
	struct nrfca_err *err;
};

static int cfg_err(const struct ld *c, const char *jpath, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cfg_err(const struct ld *c, const char *jpath, const char *fmt, ...)
{
	char reason[NRFCA_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return nrfca_err_set(c->err, NRFCA_E_CONFIG, "%s: %s: %s", c->file, jpath, reason);
}

/* Copy s into buf with anything but printable ASCII (and '"', '\\') shown as '?'. */
static const char *printable(const char *s, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\') ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* JSON paths: "$.profiles[\"imei\"].cn.pattern"; an over-long one ends in "...". */
static void jp(char *out, const char *parent, const char *key)
{
	int n = snprintf(out, PATH_BUF, "%s.%s", parent, key);

	if (n < 0 || n >= PATH_BUF)
		memcpy(out + PATH_BUF - 4, "...", 4);
}

static void jp_idx(char *out, const char *parent, size_t i)
{
	int n = snprintf(out, PATH_BUF, "%s[%zu]", parent, i);

	if (n < 0 || n >= PATH_BUF)
		memcpy(out + PATH_BUF - 4, "...", 4);
}

static int check_keys(const struct ld *c, json_t *obj, const char *path, const char *const *allowed)
{
	const char *k;
	json_t *v;
	char p[PATH_BUF], pk[80];
	size_t i;

	json_object_foreach(obj, k, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], k) == 0)
				break;
		if (allowed[i] == NULL) {
			jp(p, path, printable(k, pk, sizeof(pk)));
			return cfg_err(c, p, "unknown key");
		}
	}
	return 0;
}

static int want_object(const struct ld *c, json_t *v, const char *path)
{
	if (!json_is_object(v))
		return cfg_err(c, path, "must be an object");
	return 0;
}

static int get_bool(const struct ld *c, json_t *obj, const char *key, const char *path,
		    int def, int *out)
{
	json_t *v = json_object_get(obj, key);
	char p[PATH_BUF];

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v)) {
		jp(p, path, key);
		return cfg_err(c, p, "must be true or false");
	}
	*out = json_is_true(v);
	return 0;
}

static int get_int(const struct ld *c, json_t *obj, const char *key, const char *path,
		   long long lo, long long hi, long long def, long long *out)
{
	json_t *v = json_object_get(obj, key);
	char p[PATH_BUF];

	if (v == NULL) {
		*out = def;
		return 0;
	}
	jp(p, path, key);
	if (!json_is_integer(v))
		return cfg_err(c, p, "must be an integer");
	if (json_integer_value(v) < lo || json_integer_value(v) > hi)
		return cfg_err(c, p, "%lld is out of range %lld..%lld",
			       (long long)json_integer_value(v), lo, hi);
	*out = json_integer_value(v);
	return 0;
}

/* *out is borrowed from the JSON (NULL when absent and def is NULL). */
static int get_str(const struct ld *c, json_t *obj, const char *key, const char *path,
		   size_t maxlen, const char *def, const char **out)
{
	json_t *v = json_object_get(obj, key);
	char p[PATH_BUF];

	if (v == NULL) {
		*out = def;
		return 0;
	}
	jp(p, path, key);
	if (!json_is_string(v))
		return cfg_err(c, p, "must be a string");
	if (json_string_length(v) > maxlen)
		return cfg_err(c, p, "longer than %zu characters", maxlen);
	*out = json_string_value(v);
	return 0;
}

static int get_enum(const struct ld *c, json_t *obj, const char *key, const char *path,
		    const char *const *names, int def, int *out)
{
	const char *s;
	char p[PATH_BUF], buf[200], pv[64];
	size_t i, n = 0;

	if (get_str(c, obj, key, path, 64, NULL, &s) != 0)
		return -1;
	if (s == NULL) {
		*out = def;
		return 0;
	}
	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0) {
			*out = (int)i;
			return 0;
		}
	buf[0] = '\0';
	for (i = 0; names[i] != NULL; i++)
		n += (size_t)snprintf(buf + n, n < sizeof(buf) ? sizeof(buf) - n : 0, "%s\"%s\"",
				      i ? ", " : "", names[i]);
	jp(p, path, key);
	return cfg_err(c, p, "\"%s\" is not one of %s", printable(s, pv, sizeof(pv)), buf);
}

/* A JSON array of strings; returns the array (borrowed) or NULL when absent. */
static int get_str_array(const struct ld *c, json_t *obj, const char *key, const char *path,
			 size_t maxn, size_t maxlen, int nonempty, json_t **out)
{
	json_t *v = json_object_get(obj, key), *e;
	char p[PATH_BUF], pe[PATH_BUF];
	size_t i;

	*out = NULL;
	if (v == NULL)
		return 0;
	jp(p, path, key);
	if (!json_is_array(v))
		return cfg_err(c, p, "must be an array of strings");
	if (nonempty && json_array_size(v) == 0)
		return cfg_err(c, p, "must not be empty");
	if (json_array_size(v) > maxn)
		return cfg_err(c, p, "more than %zu entries", maxn);
	json_array_foreach(v, i, e) {
		jp_idx(pe, p, i);
		if (!json_is_string(e))
			return cfg_err(c, pe, "must be a string");
		if (json_string_length(e) == 0)
			return cfg_err(c, pe, "must not be empty");
		if (json_string_length(e) > maxlen)
			return cfg_err(c, pe, "longer than %zu characters", maxlen);
	}
	*out = v;
	return 0;
}

static int depth_ok(const struct ld *c, json_t *v, const char *path, int level)
{
	const char *k;
	json_t *e;
	char p[PATH_BUF], pk[80];
	size_t i;

	if (!json_is_object(v) && !json_is_array(v))
		return 0;
	if (level > NRFCA_POLICY_DEPTH_MAX)
		return cfg_err(c, path, "nested deeper than %d levels", NRFCA_POLICY_DEPTH_MAX);
	if (json_is_object(v)) {
		json_object_foreach(v, k, e) {
			if (strcmp(path, "$.profiles") == 0)
				snprintf(p, sizeof(p), "$.profiles[\"%s\"]", printable(k, pk, sizeof(pk)));
			else
				jp(p, path, printable(k, pk, sizeof(pk)));
			if (depth_ok(c, e, p, level + 1) != 0)
				return -1;
		}
	} else {
		json_array_foreach(v, i, e) {
			jp_idx(p, path, i);
			if (depth_ok(c, e, p, level + 1) != 0)
				return -1;
		}
	}
	return 0;
}

/* ---- files ---- */

/* base_dir + "/" + rel unless rel is absolute; malloc'd. */
static char *resolve(const struct ld *c, const char *rel)
{
	size_t n;
	char *p;

	if (rel[0] == '/' || c->base_dir == NULL)
		return strdup(rel);
	n = strlen(c->base_dir) + strlen(rel) + 2;
	p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%s/%s", c->base_dir, rel);
	return p;
}

/* Read an auxiliary file named at `jpath`, errors as "<file>: <jpath>: ...". */
static int read_aux(const struct ld *c, const char *jpath, const char *rel, size_t max,
		    char **buf, size_t *len, char **resolved)
{
	struct nrfca_err e;
	char *p = resolve(c, rel);

	if (p == NULL)
		return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
	if (nrfca_read_file(p, max, buf, len, &e) != 0) {
		cfg_err(c, jpath, "%s", e.msg);
		if (c->err != NULL && e.code == NRFCA_E_TOO_LARGE)
			c->err->code = NRFCA_E_TOO_LARGE;
		free(p);
		return -1;
	}
	if (resolved != NULL)
		*resolved = p;
	else
		free(p);
	return 0;
}

/* ---- pieces of a profile ---- */

static const char *const key_type_names[] = { "ec", "rsa", "ed25519", "ed448", NULL };

static int nid_of_curve(const char *s)
{
	int nid = EC_curve_nist2nid(s);

	if (nid == NID_undef)
		nid = OBJ_sn2nid(s);
	if (nid == NID_undef)
		nid = OBJ_ln2nid(s);
	if (nid != NID_undef && EC_curve_nid2nist(nid) == NULL && nid != NID_secp256k1 &&
	    nid != NID_brainpoolP256r1 && nid != NID_brainpoolP384r1 && nid != NID_brainpoolP512r1)
		return NID_undef;
	return nid;
}

static int load_key(const struct ld *c, json_t *prof, const char *ppath, struct nrfca_profile *pr)
{
	static const char *const keys[] = { "types", "curves", "rsa_min_bits", NULL };
	json_t *o = json_object_get(prof, "key"), *arr, *e;
	char path[PATH_BUF], p[PATH_BUF], pe[PATH_BUF], pv[64];
	long long bits;
	size_t i, j;

	jp(path, ppath, "key");
	if (o == NULL) {  /* default: EC P-256 */
		pr->key_types = POL_KT_EC;
		pr->curves = malloc(sizeof(int));
		if (pr->curves == NULL)
			return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
		pr->curves[0] = NID_X9_62_prime256v1;
		pr->n_curves = 1;
		return 0;
	}
	if (want_object(c, o, path) != 0 || check_keys(c, o, path, keys) != 0)
		return -1;
	if (get_str_array(c, o, "types", path, 4, 16, 1, &arr) != 0)
		return -1;
	jp(p, path, "types");
	if (arr == NULL)
		return cfg_err(c, p, "missing: name the allowed key types, e.g. [\"ec\"]");
	json_array_foreach(arr, i, e) {
		for (j = 0; key_type_names[j] != NULL; j++)
			if (strcmp(key_type_names[j], json_string_value(e)) == 0)
				break;
		jp_idx(pe, p, i);
		if (key_type_names[j] == NULL)
			return cfg_err(c, pe, "unknown key type \"%s\" (ec, rsa, ed25519, ed448)",
				       printable(json_string_value(e), pv, sizeof(pv)));
		pr->key_types |= 1u << j;
	}
	if (get_str_array(c, o, "curves", path, 16, 32, 1, &arr) != 0)
		return -1;
	jp(p, path, "curves");
	if (arr != NULL && !(pr->key_types & POL_KT_EC))
		return cfg_err(c, p, "curves are given but key types do not include \"ec\"");
	if (arr == NULL && (pr->key_types & POL_KT_EC))
		return cfg_err(c, p, "missing: key types include \"ec\", name the allowed curves, e.g. [\"P-256\"]");
	if (arr != NULL) {
		pr->curves = calloc(json_array_size(arr), sizeof(int));
		if (pr->curves == NULL)
			return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
		json_array_foreach(arr, i, e) {
			jp_idx(pe, p, i);
			pr->curves[i] = nid_of_curve(json_string_value(e));
			if (pr->curves[i] == NID_undef)
				return cfg_err(c, pe, "unknown curve \"%s\" (e.g. P-256, P-384)",
					       printable(json_string_value(e), pv, sizeof(pv)));
			pr->n_curves++;
		}
	}
	if (get_int(c, o, "rsa_min_bits", path, 2048, 16384, 0, &bits) != 0)
		return -1;
	jp(p, path, "rsa_min_bits");
	if (bits != 0 && !(pr->key_types & POL_KT_RSA))
		return cfg_err(c, p, "given but key types do not include \"rsa\"");
	if (bits == 0 && (pr->key_types & POL_KT_RSA))
		return cfg_err(c, p, "missing: key types include \"rsa\", give the minimum modulus size");
	pr->rsa_min_bits = (int)bits;
	return 0;
}

static int anchored(const char *s)
{
	size_t n = strlen(s), bs = 0;

	if (n < 2 || s[0] != '^' || s[n - 1] != '$')
		return 0;
	while (bs + 1 < n && s[n - 2 - bs] == '\\')
		bs++;
	return bs % 2 == 0;  /* an escaped "\$" is a literal dollar */
}

static const char *const cn_source_names[POL_CN_MAX + 1] = {
	[POL_CN_ANY] = "any",
	[POL_CN_ATTESTED_UUID] = "attested_uuid",
	[POL_CN_IMEI] = "imei",
	[POL_CN_PATTERN] = "pattern",
	[POL_CN_MAX] = NULL,
};

static int load_cn(const struct ld *c, json_t *prof, const char *ppath, struct nrfca_profile *pr)
{
	static const char *const keys[] = { "source", "imei_forms", "pattern", "max_length", NULL };
	json_t *o = json_object_get(prof, "cn"), *arr, *e;
	char path[PATH_BUF], p[PATH_BUF], pe[PATH_BUF], pv[64], rerr[160];
	const char *pat;
	char *wrapped = NULL;
	long long maxlen;
	size_t i, n;
	int src, rc;

	jp(path, ppath, "cn");
	if (o == NULL)
		return cfg_err(c, path, "missing: say where the CN comes from (\"source\")");
	if (want_object(c, o, path) != 0 || check_keys(c, o, path, keys) != 0)
		return -1;
	jp(p, path, "source");
	if (json_object_get(o, "source") == NULL)
		return cfg_err(c, p, "missing: one of \"attested_uuid\", \"imei\", \"pattern\", \"any\"");
	if (get_enum(c, o, "source", path, cn_source_names, 0, &src) != 0)
		return -1;
	pr->cn_source = (enum pol_cn_source)src;

	if (get_str_array(c, o, "imei_forms", path, 2, 16, 1, &arr) != 0)
		return -1;
	jp(p, path, "imei_forms");
	if (arr != NULL && pr->cn_source != POL_CN_IMEI)
		return cfg_err(c, p, "only meaningful with \"source\": \"imei\"");
	if (pr->cn_source == POL_CN_IMEI) {
		if (arr == NULL) {
			pr->imei_forms = POL_IMEI_FORM_NRF;
		} else {
			json_array_foreach(arr, i, e) {
				jp_idx(pe, p, i);
				if (strcmp(json_string_value(e), "nrf-imei") == 0)
					pr->imei_forms |= POL_IMEI_FORM_NRF;
				else if (strcmp(json_string_value(e), "imei") == 0)
					pr->imei_forms |= POL_IMEI_FORM_BARE;
				else
					return cfg_err(c, pe, "\"%s\" is not one of \"nrf-imei\", \"imei\"",
						       printable(json_string_value(e), pv, sizeof(pv)));
			}
		}
	}

	if (get_str(c, o, "pattern", path, POL_PATTERN_MAX, NULL, &pat) != 0)
		return -1;
	jp(p, path, "pattern");
	if (pat == NULL && pr->cn_source == POL_CN_PATTERN)
		return cfg_err(c, p, "missing: \"source\": \"pattern\" needs a pattern");
	if (pat != NULL) {
		if (!anchored(pat))
			return cfg_err(c, p, "must be anchored: start with ^ and end with $");
		for (i = 0; pat[i] != '\0'; i++)
			if (pat[i] == '\\' && pat[i + 1] >= '1' && pat[i + 1] <= '9')
				return cfg_err(c, p, "back-references are not supported");
			else if (pat[i] == '\\' && pat[i + 1] != '\0')
				i++;
		/* compile as ^(inner)$ so that an alternation stays anchored */
		n = strlen(pat);
		wrapped = malloc(n + 3);
		pr->pattern = strdup(pat);
		if (wrapped == NULL || pr->pattern == NULL) {
			free(wrapped);
			return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
		}
		snprintf(wrapped, n + 3, "^(%.*s)$", (int)(n - 2), pat + 1);
		rc = regcomp(&pr->re, wrapped, REG_EXTENDED | REG_NOSUB);
		free(wrapped);
		if (rc != 0) {
			regerror(rc, NULL, rerr, sizeof(rerr));
			return cfg_err(c, p, "invalid regular expression: %s", rerr);
		}
		pr->has_re = 1;
	}
	if (get_int(c, o, "max_length", path, 1, NRFCA_POLICY_CN_MAX, NRFCA_POLICY_CN_MAX,
		    &maxlen) != 0)
		return -1;
	pr->cn_max = (int)maxlen;
	return 0;
}

static int attr_nid(const char *s)
{
	int nid = OBJ_txt2nid(s);

	ERR_clear_error();
	return nid;
}

/* Can OpenSSL put this value into a name under this type (string type rules)? */
static int attr_value_ok(int nid, const char *v)
{
	X509_NAME *n = X509_NAME_new();
	int ok;

	if (n == NULL)
		return 0;
	ok = X509_NAME_add_entry_by_NID(n, nid, MBSTRING_UTF8, (const unsigned char *)v, -1, -1, 0);
	X509_NAME_free(n);
	ERR_clear_error();
	return ok;
}

static int nid_list(const struct ld *c, json_t *arr, const char *p, int **out, size_t *n)
{
	json_t *e;
	char pe[PATH_BUF], pv[64];
	size_t i;

	if (arr == NULL)
		return 0;
	*out = calloc(json_array_size(arr) + 1, sizeof(int));
	if (*out == NULL)
		return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
	json_array_foreach(arr, i, e) {
		jp_idx(pe, p, i);
		(*out)[i] = attr_nid(json_string_value(e));
		if ((*out)[i] == NID_undef)
			return cfg_err(c, pe, "unknown attribute type \"%s\" (e.g. O, OU, C, L, ST)",
				       printable(json_string_value(e), pv, sizeof(pv)));
		if ((*out)[i] == NID_commonName)
			return cfg_err(c, pe, "CN is governed by \"cn\", not listed here");
		(*n)++;
	}
	return 0;
}

static int load_subject(const struct ld *c, json_t *prof, const char *ppath,
			struct nrfca_profile *pr)
{
	static const char *const keys[] = { "unlisted", "ignore", "refuse", "add", NULL };
	static const char *const unl[] = { "ignore", "refuse", NULL };
	json_t *o = json_object_get(prof, "subject"), *arr, *add, *v;
	char path[PATH_BUF], p[PATH_BUF], pk[PATH_BUF], pv[64];
	const char *k;
	size_t i, j;
	int u, nid;

	jp(path, ppath, "subject");
	pr->unlisted_refuse = 0;
	if (o == NULL)
		return 0;
	if (want_object(c, o, path) != 0 || check_keys(c, o, path, keys) != 0)
		return -1;
	if (get_enum(c, o, "unlisted", path, unl, 0, &u) != 0)
		return -1;
	pr->unlisted_refuse = u;
	if (get_str_array(c, o, "ignore", path, 32, 32, 0, &arr) != 0)
		return -1;
	jp(p, path, "ignore");
	if (nid_list(c, arr, p, &pr->ignore_nids, &pr->n_ignore) != 0)
		return -1;
	if (get_str_array(c, o, "refuse", path, 32, 32, 0, &arr) != 0)
		return -1;
	jp(p, path, "refuse");
	if (nid_list(c, arr, p, &pr->refuse_nids, &pr->n_refuse) != 0)
		return -1;
	for (i = 0; i < pr->n_refuse; i++)
		for (j = 0; j < pr->n_ignore; j++)
			if (pr->refuse_nids[i] == pr->ignore_nids[j]) {
				jp_idx(pk, p, i);
				return cfg_err(c, pk, "%s is listed in both \"ignore\" and \"refuse\"",
					       OBJ_nid2sn(pr->refuse_nids[i]));
			}

	add = json_object_get(o, "add");
	jp(p, path, "add");
	if (add == NULL)
		return 0;
	if (!json_is_object(add))
		return cfg_err(c, p, "must be an object of attribute: value, e.g. {\"O\": \"Acme\"}");
	if (json_object_size(add) > 16)
		return cfg_err(c, p, "more than 16 attributes");
	pr->add = calloc(json_object_size(add) + 1, sizeof(*pr->add));
	if (pr->add == NULL)
		return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
	json_object_foreach(add, k, v) {
		jp(pk, p, printable(k, pv, sizeof(pv)));
		nid = attr_nid(k);
		if (nid == NID_undef)
			return cfg_err(c, pk, "unknown attribute type (e.g. O, OU, C, L, ST)");
		if (nid == NID_commonName)
			return cfg_err(c, pk, "CN is governed by \"cn\", not added here");
		if (!json_is_string(v) || json_string_length(v) == 0)
			return cfg_err(c, pk, "must be a non-empty string");
		if (json_string_length(v) > 64)
			return cfg_err(c, pk, "longer than 64 characters");
		if (nid == NID_countryName && json_string_length(v) != 2)
			return cfg_err(c, pk, "a country is two letters (ISO 3166), e.g. \"NO\"");
		if (!attr_value_ok(nid, json_string_value(v)))
			return cfg_err(c, pk, "\"%s\" is not a valid value for this attribute type",
				       printable(json_string_value(v), pv, sizeof(pv)));
		pr->add[pr->n_add].nid = nid;
		pr->add[pr->n_add].value = strdup(json_string_value(v));
		if (pr->add[pr->n_add].value == NULL)
			return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
		pr->n_add++;
	}
	return 0;
}

static int add_pubkeys_from(const struct ld *c, const char *jpath, const char *rel,
			    struct nrfca_profile *pr, size_t *cap)
{
	char *buf = NULL, *full = NULL;
	size_t len, found = 0;
	BIO *bio = NULL;
	EVP_PKEY *pk;
	EVP_PKEY **nk;
	int rc = -1;

	if (read_aux(c, jpath, rel, POL_AUX_FILE_MAX, &buf, &len, &full) != 0)
		return -1;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio == NULL) {
		nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	while ((pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) != NULL) {
		if (pr->n_idkeys >= POL_IDKEYS_MAX) {
			EVP_PKEY_free(pk);
			cfg_err(c, jpath, "more than %d identity keys", POL_IDKEYS_MAX);
			goto out;
		}
		if (pr->n_idkeys == *cap) {
			*cap = *cap ? *cap * 2 : 8;
			nk = realloc(pr->idkeys, *cap * sizeof(*nk));
			if (nk == NULL) {
				EVP_PKEY_free(pk);
				nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
				goto out;
			}
			pr->idkeys = nk;
		}
		pr->idkeys[pr->n_idkeys++] = pk;
		found++;
	}
	ERR_clear_error();
	if (found == 0) {
		cfg_err(c, jpath, "%s holds no PEM \"PUBLIC KEY\"", full);
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	free(buf);
	free(full);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_identity_keys(const struct ld *c, json_t *arr, const char *p,
			      struct nrfca_profile *pr)
{
	char pe[PATH_BUF], *full = NULL, **names = NULL;
	size_t i, j, n = 0, cap = 0, ncap = 0;
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	json_t *e;
	int rc = -1;

	json_array_foreach(arr, i, e) {
		jp_idx(pe, p, i);
		full = resolve(c, json_string_value(e));
		if (full == NULL)
			return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
		if (stat(full, &st) != 0) {
			cfg_err(c, pe, "cannot open %s: %s", full, strerror(errno));
			goto out;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (add_pubkeys_from(c, pe, json_string_value(e), pr, &cap) != 0)
				goto out;
			free(full);
			full = NULL;
			continue;
		}
		d = opendir(full);
		if (d == NULL) {
			cfg_err(c, pe, "cannot open directory %s: %s", full, strerror(errno));
			goto out;
		}
		while ((de = readdir(d)) != NULL) {
			size_t l = strlen(de->d_name);
			char **nn;

			if (l < 5 || strcmp(de->d_name + l - 4, ".pem") != 0 || de->d_name[0] == '.')
				continue;
			if (n >= POL_IDKEYS_MAX) {
				cfg_err(c, pe, "%s holds more than %d .pem files", full, POL_IDKEYS_MAX);
				goto out;
			}
			if (n == ncap) {
				ncap = ncap ? ncap * 2 : 16;
				nn = realloc(names, ncap * sizeof(*nn));
				if (nn == NULL)
					goto nomem;
				names = nn;
			}
			names[n] = malloc(strlen(full) + l + 2);
			if (names[n] == NULL)
				goto nomem;
			snprintf(names[n], strlen(full) + l + 2, "%s/%s", full, de->d_name);
			n++;
		}
		closedir(d);
		d = NULL;
		if (n == 0) {
			cfg_err(c, pe, "directory %s holds no .pem files", full);
			goto out;
		}
		qsort(names, n, sizeof(*names), cmp_str);
		for (j = 0; j < n; j++)
			if (add_pubkeys_from(c, pe, names[j], pr, &cap) != 0)
				goto out;
		for (j = 0; j < n; j++)
			free(names[j]);
		n = 0;
		free(full);
		full = NULL;
	}
	rc = 0;
	goto out;
nomem:
	nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
out:
	if (d != NULL)
		closedir(d);
	for (j = 0; j < n; j++)
		free(names[j]);
	free(names);
	free(full);
	return rc;
}

static int load_attestation(const struct ld *c, json_t *prof, const char *ppath,
			    struct nrfca_profile *pr)
{
	static const char *const keys[] = { "required", "binding", "payload", "identity_keys",
					    "verify_with", "on_unavailable", NULL };
	static const char *const payloads[] = { "csr", "any", NULL };
	static const char *const verifiers[] = { "none", "nrf-cloud-identity", NULL };
	static const char *const unavail[] = { "refuse", "issue", NULL };
	json_t *o = json_object_get(prof, "attestation"), *arr;
	char path[PATH_BUF], p[PATH_BUF];
	int pl, vw, un;

	jp(path, ppath, "attestation");
	pr->binding_required = 1;
	pr->payload_csr = 1;
	if (o == NULL)
		return 0;
	if (want_object(c, o, path) != 0 || check_keys(c, o, path, keys) != 0)
		return -1;
	if (get_bool(c, o, "required", path, 0, &pr->att_required) != 0 ||
	    get_bool(c, o, "binding", path, 1, &pr->binding_required) != 0 ||
	    get_enum(c, o, "payload", path, payloads, 0, &pl) != 0)
		return -1;
	pr->payload_csr = pl == 0;
	if (get_str_array(c, o, "identity_keys", path, 64, 1024, 1, &arr) != 0)
		return -1;
	jp(p, path, "identity_keys");
	if (arr != NULL && load_identity_keys(c, arr, p, pr) != 0)
		return -1;
	if (get_enum(c, o, "verify_with", path, verifiers, 0, &vw) != 0 ||
	    get_enum(c, o, "on_unavailable", path, unavail, 0, &un) != 0)
		return -1;
	pr->verify_identity = vw == 1;
	pr->identity_fail_open = un == 1;
	jp(p, path, "on_unavailable");
	if (json_object_get(o, "on_unavailable") != NULL && !pr->verify_identity)
		return cfg_err(c, p, "only meaningful with \"verify_with\": \"nrf-cloud-identity\"");
	jp(p, path, "verify_with");
	if (pr->verify_identity && !pr->att_required)
		return cfg_err(c, p, "asking the identity service needs \"required\": true (a request "
			       "without attestation would skip the check)");
	return 0;
}

/* "FIRST-LAST": two decimal numbers of at most 10 digits; 0 when well formed. */
static int parse_range(const char *s, size_t len, unsigned long long *lo, unsigned long long *hi)
{
	unsigned long long v[2] = { 0, 0 };
	size_t i = 0, digits;
	int k;

	for (k = 0; k < 2; k++) {
		for (digits = 0; i < len && isdigit((unsigned char)s[i]); i++, digits++) {
			if (digits == 10)
				return -1;
			v[k] = v[k] * 10 + (unsigned long long)(s[i] - '0');
		}
		if (digits == 0)
			return -1;
		if (k == 0 && (i >= len || s[i++] != '-'))
			return -1;
	}
	if (i != len)
		return -1;
	*lo = v[0];
	*hi = v[1];
	return 0;
}

static int load_sec_tags(const struct ld *c, json_t *prof, const char *ppath,
			 struct nrfca_profile *pr)
{
	json_t *arr = json_object_get(prof, "sec_tags"), *e;
	char p[PATH_BUF], pe[PATH_BUF], pv[64];
	unsigned long long lo, hi;
	size_t i;

	jp(p, ppath, "sec_tags");
	if (arr == NULL)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return cfg_err(c, p, "must be a non-empty array of sec_tags or \"FIRST-LAST\" ranges");
	if (json_array_size(arr) > 256)
		return cfg_err(c, p, "more than 256 entries");
	pr->sec_tags = calloc(json_array_size(arr), sizeof(*pr->sec_tags));
	if (pr->sec_tags == NULL)
		return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
	json_array_foreach(arr, i, e) {
		jp_idx(pe, p, i);
		if (json_is_integer(e)) {
			if (json_integer_value(e) < 0 ||
			    json_integer_value(e) > (json_int_t)NRFCA_POLICY_SEC_TAG_MAX)
				return cfg_err(c, pe, "%lld is outside the modem's sec_tag range 0..%lu",
					       (long long)json_integer_value(e),
					       (unsigned long)NRFCA_POLICY_SEC_TAG_MAX);
			lo = hi = (unsigned long long)json_integer_value(e);
		} else if (json_is_string(e) &&
			   parse_range(json_string_value(e), json_string_length(e), &lo, &hi) == 0) {
			if (lo > hi || hi > NRFCA_POLICY_SEC_TAG_MAX)
				return cfg_err(c, pe, "range \"%s\" is empty or beyond %lu",
					       printable(json_string_value(e), pv, sizeof(pv)),
					       (unsigned long)NRFCA_POLICY_SEC_TAG_MAX);
		} else {
			return cfg_err(c, pe, "must be a sec_tag (integer) or a range \"FIRST-LAST\"");
		}
		pr->sec_tags[i].lo = lo;
		pr->sec_tags[i].hi = hi;
		pr->n_sec_tags++;
	}
	pr->has_sec_tags = 1;
	return 0;
}

/* ---- device lists ---- */

int pol_list_contains(const struct pol_list *l, const char *s)
{
	size_t lo = 0, hi = l->n, mid;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = strcmp(l->items[mid], s);
		if (r == 0)
			return 1;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int is_imei(const char *s, size_t n)
{
	size_t i;

	if (n != 15)
		return 0;
	for (i = 0; i < 15; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int load_list(const struct ld *c, const char *jpath, const char *rel, struct pol_list *l)
{
	char *buf = NULL, *line, *end, *next, *h;
	size_t len, cap = 0, lineno = 0, i, n;
	char **ni;
	int rc = -1;

	if (read_aux(c, jpath, rel, NRFCA_POLICY_LIST_MAX, &buf, &len, &l->path) != 0)
		return -1;
	if (memchr(buf, '\0', len) != NULL) {
		cfg_err(c, jpath, "%s holds a NUL byte; it must be text", l->path);
		goto out;
	}
	for (line = buf; line < buf + len; line = next) {
		lineno++;
		end = memchr(line, '\n', (size_t)(buf + len - line));
		next = end != NULL ? end + 1 : buf + len;
		if (end == NULL)
			end = buf + len;
		h = memchr(line, '#', (size_t)(end - line));
		if (h != NULL)
			end = h;
		while (line < end && isspace((unsigned char)*line))
			line++;
		while (end > line && isspace((unsigned char)end[-1]))
			end--;
		n = (size_t)(end - line);
		if (n == 0)
			continue;
		if (!nrfca_is_uuid_any_case(line, n) && !is_imei(line, n)) {
			cfg_err(c, jpath, "%s line %zu: not a device UUID (8-4-4-4-12) or a 15-digit IMEI",
				l->path, lineno);
			goto out;
		}
		if (l->n == cap) {
			cap = cap ? cap * 2 : 64;
			ni = realloc(l->items, cap * sizeof(*ni));
			if (ni == NULL)
				goto nomem;
			l->items = ni;
		}
		l->items[l->n] = strndup(line, n);
		if (l->items[l->n] == NULL)
			goto nomem;
		for (i = 0; i < n; i++)
			l->items[l->n][i] = (char)tolower((unsigned char)l->items[l->n][i]);
		l->n++;
	}
	if (l->n > 1) {
		qsort(l->items, l->n, sizeof(*l->items), cmp_str);
		for (i = 1, n = 1; i < l->n; i++) {  /* drop duplicates */
			if (strcmp(l->items[i], l->items[n - 1]) == 0)
				free(l->items[i]);
			else
				l->items[n++] = l->items[i];
		}
		l->n = n;
	}
	rc = 0;
	goto out;
nomem:
	nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
out:
	free(buf);
	return rc;
}

static int load_devices(const struct ld *c, json_t *prof, const char *ppath,
			struct nrfca_profile *pr)
{
	static const char *const keys[] = { "allow_list", "deny_list", NULL };
	json_t *o = json_object_get(prof, "devices");
	char path[PATH_BUF], p[PATH_BUF];
	const char *f;

	jp(path, ppath, "devices");
	if (o == NULL)
		return 0;
	if (want_object(c, o, path) != 0 || check_keys(c, o, path, keys) != 0)
		return -1;
	if (get_str(c, o, "allow_list", path, 1024, NULL, &f) != 0)
		return -1;
	jp(p, path, "allow_list");
	if (f != NULL) {
		pr->has_allow = 1;
		if (load_list(c, p, f, &pr->allow) != 0)
			return -1;
	}
	if (get_str(c, o, "deny_list", path, 1024, NULL, &f) != 0)
		return -1;
	jp(p, path, "deny_list");
	if (f != NULL) {
		pr->has_deny = 1;
		if (load_list(c, p, f, &pr->deny) != 0)
			return -1;
	}
	return 0;
}

/* A group name: 1..64 of A-Z a-z 0-9 . _ - (the rule for credential names). */
static int valid_group_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > POL_GROUP_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

static int copy_names(const struct ld *c, json_t *arr, char ***out, size_t *n)
{
	json_t *e;
	size_t i;

	*out = calloc(json_array_size(arr) + 1, sizeof(char *));
	if (*out == NULL)
		return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
	json_array_foreach(arr, i, e) {
		(*out)[i] = strdup(json_string_value(e));
		if ((*out)[i] == NULL)
			return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
		(*n)++;
	}
	return 0;
}

static int load_stations(const struct ld *c, json_t *prof, const char *ppath,
			 struct nrfca_profile *pr)
{
	json_t *arr, *e;
	char p[PATH_BUF], pe[PATH_BUF], pv[80];
	size_t i;

	if (get_str_array(c, prof, "stations", ppath, 4096, POL_STATION_MAX, 0, &arr) != 0)
		return -1;
	if (arr != NULL) {
		pr->has_stations = 1;
		if (copy_names(c, arr, &pr->stations, &pr->n_stations) != 0)
			return -1;
	}
	if (get_str_array(c, prof, "groups", ppath, POL_GROUPS_MAX, POL_GROUP_MAX, 0, &arr) != 0)
		return -1;
	if (arr == NULL)
		return 0;
	jp(p, ppath, "groups");
	json_array_foreach(arr, i, e) {
		jp_idx(pe, p, i);
		if (!valid_group_name(json_string_value(e)))
			return cfg_err(c, pe, "\"%s\" is not a group name (1 to %d of A-Z a-z 0-9 . _ -)",
				       printable(json_string_value(e), pv, sizeof(pv)), POL_GROUP_MAX);
	}
	pr->has_groups = 1;
	return copy_names(c, arr, &pr->groups, &pr->n_groups);
}

static int load_validity(const struct ld *c, json_t *prof, const char *ppath,
			 struct nrfca_profile *pr)
{
	static const char *const keys[] = { "default_days", "max_days", NULL };
	json_t *o = json_object_get(prof, "validity");
	char path[PATH_BUF], p[PATH_BUF];
	long long def, max;

	jp(path, ppath, "validity");
	if (o == NULL)
		return cfg_err(c, path, "missing: give \"default_days\" and \"max_days\"");
	if (want_object(c, o, path) != 0 || check_keys(c, o, path, keys) != 0)
		return -1;
	jp(p, path, "default_days");
	if (json_object_get(o, "default_days") == NULL)
		return cfg_err(c, p, "missing");
	jp(p, path, "max_days");
	if (json_object_get(o, "max_days") == NULL)
		return cfg_err(c, p, "missing");
	if (get_int(c, o, "default_days", path, 1, 36500, 0, &def) != 0 ||
	    get_int(c, o, "max_days", path, 1, 36500, 0, &max) != 0)
		return -1;
	jp(p, path, "default_days");
	if (def > max)
		return cfg_err(c, p, "%lld is more than max_days %lld", def, max);
	pr->validity_default = (int)def;
	pr->validity_max = (int)max;
	return 0;
}

static const struct {
	const char *name;
	unsigned bit;
} ku_names[] = {
	{ "digitalSignature", X509v3_KU_DIGITAL_SIGNATURE },
	{ "nonRepudiation", X509v3_KU_NON_REPUDIATION },
	{ "contentCommitment", X509v3_KU_NON_REPUDIATION },
	{ "keyEncipherment", X509v3_KU_KEY_ENCIPHERMENT },
	{ "dataEncipherment", X509v3_KU_DATA_ENCIPHERMENT },
	{ "keyAgreement", X509v3_KU_KEY_AGREEMENT },
	{ "keyCertSign", X509v3_KU_KEY_CERT_SIGN },
	{ "cRLSign", X509v3_KU_CRL_SIGN },
	{ "encipherOnly", X509v3_KU_ENCIPHER_ONLY },
	{ "decipherOnly", X509v3_KU_DECIPHER_ONLY },
};

/* An array of URLs for certificate extensions: http://, https:// or
 * ldap:// with a host, printable ASCII without spaces.  *out is a new
 * NULL-terminated array (NULL when the key is absent). */
static int get_urls(const struct ld *c, json_t *obj, const char *key, const char *path,
		    char ***out, size_t *n)
{
	static const char *const schemes[] = { "http://", "https://", "ldap://", NULL };
	json_t *arr, *e;
	char p[PATH_BUF], pe[PATH_BUF], pv[64];
	const char *u;
	size_t i, k;

	*out = NULL;
	*n = 0;
	if (get_str_array(c, obj, key, path, POL_URLS_MAX, POL_URL_MAX, 1, &arr) != 0)
		return -1;
	if (arr == NULL)
		return 0;
	jp(p, path, key);
	json_array_foreach(arr, i, e) {
		jp_idx(pe, p, i);
		u = json_string_value(e);
		for (k = 0; schemes[k] != NULL; k++)
			if (strncmp(u, schemes[k], strlen(schemes[k])) == 0)
				break;
		if (schemes[k] == NULL)
			return cfg_err(c, pe, "\"%s\" is not an http://, https:// or ldap:// URL",
				       printable(u, pv, sizeof(pv)));
		if (u[strlen(schemes[k])] == '\0' || u[strlen(schemes[k])] == '/')
			return cfg_err(c, pe, "\"%s\" names no host", printable(u, pv, sizeof(pv)));
		for (k = 0; u[k] != '\0'; k++)
			if ((unsigned char)u[k] <= 0x20 || (unsigned char)u[k] >= 0x7f)
				return cfg_err(c, pe, "\"%s\" holds a space, a control or a non-ASCII "
					       "character (percent-encode it)", printable(u, pv, sizeof(pv)));
	}
	*out = calloc(json_array_size(arr) + 1, sizeof(char *));
	if (*out == NULL)
		return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
	json_array_foreach(arr, i, e) {
		(*out)[i] = strdup(json_string_value(e));
		if ((*out)[i] == NULL)
			return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
		(*n)++;
	}
	return 0;
}

static int load_extensions(const struct ld *c, json_t *prof, const char *ppath,
			   struct nrfca_profile *pr)
{
	static const char *const keys[] = { "basic_constraints", "key_usage", "extended_key_usage",
					    "subject_key_identifier", "authority_key_identifier",
					    "crl_distribution_points", "authority_info_access",
					    NULL };
	static const char *const aia_keys[] = { "ca_issuers", NULL };
	static const char *const crit_only[] = { "critical", NULL };
	static const char *const ku_keys[] = { "bits", "critical", NULL };
	static const char *const eku_keys[] = { "purposes", "critical", NULL };
	json_t *o = json_object_get(prof, "extensions"), *s, *arr, *e;
	char path[PATH_BUF], p[PATH_BUF], pa[PATH_BUF], pe[PATH_BUF], pv[64];
	ASN1_OBJECT *obj;
	size_t i, j;

	jp(path, ppath, "extensions");
	/* defaults (DESIGN.md): CA:FALSE critical, digitalSignature critical,
	 * clientAuth, SKI, AKI */
	pr->ext.basic_constraints = 1;
	pr->ext.basic_constraints_critical = 1;
	pr->ext.key_usage = X509v3_KU_DIGITAL_SIGNATURE;
	pr->ext.key_usage_critical = 1;
	pr->ext.eku_critical = 0;
	pr->ext.subject_key_id = 1;
	pr->ext.authority_key_id = 1;
	arr = NULL;
	if (o != NULL) {
		if (want_object(c, o, path) != 0 || check_keys(c, o, path, keys) != 0)
			return -1;
		s = json_object_get(o, "basic_constraints");
		jp(p, path, "basic_constraints");
		if (s != NULL && (want_object(c, s, p) != 0 || check_keys(c, s, p, crit_only) != 0 ||
				  get_bool(c, s, "critical", p, 1,
					   &pr->ext.basic_constraints_critical) != 0))
			return -1;
		s = json_object_get(o, "key_usage");
		jp(p, path, "key_usage");
		if (s != NULL) {
			if (want_object(c, s, p) != 0 || check_keys(c, s, p, ku_keys) != 0 ||
			    get_bool(c, s, "critical", p, 1, &pr->ext.key_usage_critical) != 0 ||
			    get_str_array(c, s, "bits", p, 9, 32, 1, &arr) != 0)
				return -1;
			jp(pa, p, "bits");
			if (arr == NULL)
				return cfg_err(c, pa, "missing, e.g. [\"digitalSignature\"]");
			pr->ext.key_usage = 0;
			json_array_foreach(arr, i, e) {
				jp_idx(pe, pa, i);
				for (j = 0; j < sizeof(ku_names) / sizeof(ku_names[0]); j++)
					if (strcmp(ku_names[j].name, json_string_value(e)) == 0)
						break;
				if (j == sizeof(ku_names) / sizeof(ku_names[0]))
					return cfg_err(c, pe, "unknown keyUsage bit \"%s\"",
						       printable(json_string_value(e), pv, sizeof(pv)));
				if (ku_names[j].bit & (X509v3_KU_KEY_CERT_SIGN | X509v3_KU_CRL_SIGN))
					return cfg_err(c, pe, "%s contradicts basicConstraints CA:FALSE",
						       ku_names[j].name);
				pr->ext.key_usage |= ku_names[j].bit;
			}
			arr = NULL;
		}
		s = json_object_get(o, "extended_key_usage");
		jp(p, path, "extended_key_usage");
		if (s != NULL) {
			if (want_object(c, s, p) != 0 || check_keys(c, s, p, eku_keys) != 0 ||
			    get_bool(c, s, "critical", p, 0, &pr->ext.eku_critical) != 0 ||
			    get_str_array(c, s, "purposes", p, 16, 64, 1, &arr) != 0)
				return -1;
			jp(pa, p, "purposes");
			if (arr == NULL)
				return cfg_err(c, pa, "missing, e.g. [\"clientAuth\"]");
			json_array_foreach(arr, i, e) {
				jp_idx(pe, pa, i);
				obj = OBJ_txt2obj(json_string_value(e), 0);
				if (obj == NULL) {
					ERR_clear_error();
					return cfg_err(c, pe, "\"%s\" is not a known purpose name or an OID",
						       printable(json_string_value(e), pv, sizeof(pv)));
				}
				ASN1_OBJECT_free(obj);
			}
		}
		if (get_bool(c, o, "subject_key_identifier", path, 1, &pr->ext.subject_key_id) != 0 ||
		    get_bool(c, o, "authority_key_identifier", path, 1,
			     &pr->ext.authority_key_id) != 0)
			return -1;
		if (get_urls(c, o, "crl_distribution_points", path, &pr->crl_dp,
			     &pr->ext.n_crl_dp) != 0)
			return -1;
		s = json_object_get(o, "authority_info_access");
		jp(p, path, "authority_info_access");
		if (s != NULL && (want_object(c, s, p) != 0 || check_keys(c, s, p, aia_keys) != 0 ||
				  get_urls(c, s, "ca_issuers", p, &pr->ca_issuers,
					   &pr->ext.n_ca_issuers) != 0))
			return -1;
		pr->ext.crl_dp = (const char *const *)pr->crl_dp;
		pr->ext.ca_issuers = (const char *const *)pr->ca_issuers;
	}
	if (arr == NULL) {
		pr->eku = calloc(2, sizeof(char *));
		if (pr->eku == NULL || (pr->eku[0] = strdup("clientAuth")) == NULL)
			return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
		pr->ext.n_eku = 1;
	} else {
		pr->eku = calloc(json_array_size(arr) + 1, sizeof(char *));
		if (pr->eku == NULL)
			return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
		json_array_foreach(arr, i, e) {
			pr->eku[i] = strdup(json_string_value(e));
			if (pr->eku[i] == NULL)
				return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
			pr->ext.n_eku++;
		}
	}
	pr->ext.eku = (const char *const *)pr->eku;
	return 0;
}

/* Only PEM CERTIFICATE blocks and blank lines; returns the number of blocks or -1. */
static int pem_certs_only(const char *buf, size_t len)
{
	const char *line = buf, *end, *next;
	int inside = 0, blocks = 0;
	size_t n;

	while (line < buf + len) {
		end = memchr(line, '\n', (size_t)(buf + len - line));
		next = end != NULL ? end + 1 : buf + len;
		if (end == NULL)
			end = buf + len;
		n = (size_t)(end - line);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (!inside) {
			if (n == 27 && memcmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0) {
				inside = 1;
			} else {
				while (n > 0 && isspace((unsigned char)line[n - 1]))
					n--;
				if (n != 0)
					return -1;
			}
		} else if (n == 25 && memcmp(line, "-----END CERTIFICATE-----", 25) == 0) {
			inside = 0;
			blocks++;
		}
		line = next;
	}
	return inside ? -1 : blocks;
}

static int load_trust(const struct ld *c, json_t *prof, const char *ppath, struct nrfca_profile *pr)
{
	json_t *arr, *e;
	char p[PATH_BUF], pe[PATH_BUF];
	char *buf = NULL, *full = NULL, *nt;
	size_t len, i;
	BIO *bio = NULL;
	X509 *x;
	int blocks, certs, rc = -1;

	if (get_str_array(c, prof, "trust_bundle", ppath, 8, 1024, 1, &arr) != 0)
		return -1;
	jp(p, ppath, "trust_bundle");
	if (arr == NULL)
		return cfg_err(c, p, "missing: name the PEM file(s) of the root CA the device will trust");
	json_array_foreach(arr, i, e) {
		const char *name = json_string_value(e);
		struct ld in_trust = *c;

		jp_idx(pe, p, i);
		in_trust.base_dir = c->trust_dir;
		if (read_aux(&in_trust, pe, name, POL_AUX_FILE_MAX, &buf, &len, &full) != 0) {
			if (name[0] != '/' && c->err != NULL) {
				static const char note[] = " (names are relative to trust_dir)";
				size_t at = strlen(c->err->msg);

				if (at > sizeof(c->err->msg) - sizeof(note))
					at = sizeof(c->err->msg) - sizeof(note);
				memcpy(c->err->msg + at, note, sizeof(note));
			}
			goto out;
		}
		blocks = pem_certs_only(buf, len);
		if (blocks <= 0) {
			cfg_err(c, pe, "%s must hold only PEM CERTIFICATE blocks", full);
			goto out;
		}
		bio = BIO_new_mem_buf(buf, (int)len);
		if (bio == NULL)
			goto nomem;
		certs = 0;
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			X509_free(x);
			certs++;
		}
		ERR_clear_error();
		BIO_free(bio);
		bio = NULL;
		if (certs != blocks) {
			cfg_err(c, pe, "%s: %d of its %d certificates do not parse", full,
				blocks - certs, blocks);
			goto out;
		}
		/* append exactly as in the file, with a line break between files */
		nt = realloc(pr->trust, pr->trust_len + len + 2);
		if (nt == NULL)
			goto nomem;
		pr->trust = nt;
		memcpy(pr->trust + pr->trust_len, buf, len);
		pr->trust_len += len;
		if (len > 0 && buf[len - 1] != '\n')
			pr->trust[pr->trust_len++] = '\n';
		pr->trust[pr->trust_len] = '\0';
		free(buf);
		free(full);
		buf = full = NULL;
	}
	rc = 0;
	goto out;
nomem:
	nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
out:
	BIO_free(bio);
	free(buf);
	free(full);
	return rc;
}

static int load_rate(const struct ld *c, json_t *prof, const char *ppath, struct nrfca_profile *pr)
{
	static const char *const keys[] = { "per_station_per_minute", "per_profile_per_minute",
					    "supersedes_per_station_per_hour", NULL };
	json_t *o = json_object_get(prof, "rate_limit");
	char path[PATH_BUF];
	long long a, b, s;

	jp(path, ppath, "rate_limit");
	if (o == NULL)
		return 0;
	if (want_object(c, o, path) != 0 || check_keys(c, o, path, keys) != 0 ||
	    get_int(c, o, "per_station_per_minute", path, 0, 1000000, 0, &a) != 0 ||
	    get_int(c, o, "per_profile_per_minute", path, 0, 1000000, 0, &b) != 0 ||
	    get_int(c, o, "supersedes_per_station_per_hour", path, 0, 1000000, 0, &s) != 0)
		return -1;
	pr->rl_station = (unsigned)a;
	pr->rl_profile = (unsigned)b;
	pr->rl_supersede = (unsigned)s;
	return 0;
}

static int valid_profile_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > POL_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

static const char *const input_names[] = { "keygen", "csr", "any", NULL };
static const char *const on_existing_names[NRFCA_ON_EXISTING_MAX + 1] = {
	"reject", "replay", "supersede", NULL
};
static const char *const supersede_from_names[NRFCA_SUPERSEDE_FROM_MAX + 1] = {
	"same_station", "station_group", "any", NULL
};

static int load_profile(const struct ld *c, const char *name, json_t *o, struct nrfca_profile *pr)
{
	static const char *const keys[] = { "description", "enabled", "input", "key", "cn",
					    "subject", "attestation", "sec_tags", "devices",
					    "stations", "groups", "on_existing", "supersede_from",
					    "require_known_device", "validity", "extensions",
					    "trust_bundle", "rate_limit", NULL };
	char path[PATH_BUF], p[PATH_BUF];
	const char *desc;
	int in, oe, sf;

	snprintf(path, sizeof(path), "$.profiles[\"%s\"]", name);
	if (want_object(c, o, path) != 0 || check_keys(c, o, path, keys) != 0)
		return -1;
	pr->name = strdup(name);
	if (pr->name == NULL)
		return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
	if (get_str(c, o, "description", path, 1024, "", &desc) != 0)
		return -1;
	pr->description = strdup(desc);
	if (pr->description == NULL)
		return nrfca_err_set(c->err, NRFCA_E_NOMEM, "out of memory");
	if (get_bool(c, o, "enabled", path, 1, &pr->enabled) != 0)
		return -1;
	jp(p, path, "input");
	if (json_object_get(o, "input") == NULL)
		return cfg_err(c, p, "missing: \"keygen\" (modem-generated key), \"csr\" (host key) or \"any\"");
	if (get_enum(c, o, "input", path, input_names, 0, &in) != 0)
		return -1;
	pr->inputs = in == 0 ? 1u << NRFCA_INPUT_KEYGEN :
		     in == 1 ? 1u << NRFCA_INPUT_CSR :
			       (1u << NRFCA_INPUT_KEYGEN) | (1u << NRFCA_INPUT_CSR);
	if (load_key(c, o, path, pr) != 0 || load_cn(c, o, path, pr) != 0 ||
	    load_subject(c, o, path, pr) != 0 || load_attestation(c, o, path, pr) != 0 ||
	    load_sec_tags(c, o, path, pr) != 0 || load_devices(c, o, path, pr) != 0 ||
	    load_stations(c, o, path, pr) != 0)
		return -1;
	jp(p, path, "on_existing");
	if (json_object_get(o, "on_existing") == NULL)
		return cfg_err(c, p, "missing: \"reject\", \"replay\" or \"supersede\"");
	if (get_enum(c, o, "on_existing", path, on_existing_names, 0, &oe) != 0)
		return -1;
	pr->on_existing = (enum nrfca_on_existing)oe;
	if (get_enum(c, o, "supersede_from", path, supersede_from_names,
		     NRFCA_SUPERSEDE_SAME_STATION, &sf) != 0 ||
	    get_bool(c, o, "require_known_device", path, 0, &pr->require_known_device) != 0)
		return -1;
	pr->supersede_from = (enum nrfca_supersede_from)sf;
	if (load_validity(c, o, path, pr) != 0 || load_extensions(c, o, path, pr) != 0 ||
	    load_trust(c, o, path, pr) != 0 || load_rate(c, o, path, pr) != 0)
		return -1;

	/* contradictions */
	if (pr->inputs == (1u << NRFCA_INPUT_CSR)) {
		if (pr->att_required) {
			jp(p, path, "attestation.required");
			return cfg_err(c, p, "a profile with \"input\": \"csr\" (host-generated key) "
				       "never sees an attestation and cannot require one");
		}
		if (pr->n_idkeys > 0) {
			jp(p, path, "attestation.identity_keys");
			return cfg_err(c, p, "a profile with \"input\": \"csr\" never sees an attestation");
		}
		if (pr->has_sec_tags) {
			jp(p, path, "sec_tags");
			return cfg_err(c, p, "a profile with \"input\": \"csr\" never learns an attested sec_tag");
		}
	}
	if (pr->cn_source == POL_CN_ATTESTED_UUID && !pr->att_required) {
		jp(p, path, "cn.source");
		return cfg_err(c, p, "\"attested_uuid\" needs \"attestation\": {\"required\": true}");
	}
	if (pr->on_existing != NRFCA_ON_EXISTING_REJECT && pr->cn_source == POL_CN_ANY) {
		jp(p, path, "on_existing");
		return cfg_err(c, p, "\"%s\" needs a CN rule that identifies the device "
			       "(cn.source attested_uuid, imei or pattern)",
			       on_existing_names[pr->on_existing]);
	}
	return 0;
}

static void profile_free(struct nrfca_profile *pr)
{
	size_t i;

	free(pr->name);
	free(pr->description);
	free(pr->curves);
	free(pr->pattern);
	if (pr->has_re)
		regfree(&pr->re);
	free(pr->ignore_nids);
	free(pr->refuse_nids);
	for (i = 0; i < pr->n_add; i++)
		free(pr->add[i].value);
	free(pr->add);
	for (i = 0; i < pr->n_idkeys; i++)
		EVP_PKEY_free(pr->idkeys[i]);
	free(pr->idkeys);
	free(pr->sec_tags);
	for (i = 0; i < pr->allow.n; i++)
		free(pr->allow.items[i]);
	free(pr->allow.items);
	free(pr->allow.path);
	for (i = 0; i < pr->deny.n; i++)
		free(pr->deny.items[i]);
	free(pr->deny.items);
	free(pr->deny.path);
	for (i = 0; i < pr->n_stations; i++)
		free(pr->stations[i]);
	free(pr->stations);
	for (i = 0; i < pr->n_groups; i++)
		free(pr->groups[i]);
	free(pr->groups);
	if (pr->eku != NULL)
		for (i = 0; pr->eku[i] != NULL; i++)
			free(pr->eku[i]);
	free(pr->eku);
	for (i = 0; pr->crl_dp != NULL && pr->crl_dp[i] != NULL; i++)
		free(pr->crl_dp[i]);
	free(pr->crl_dp);
	for (i = 0; pr->ca_issuers != NULL && pr->ca_issuers[i] != NULL; i++)
		free(pr->ca_issuers[i]);
	free(pr->ca_issuers);
	free(pr->trust);
}

static void policy_free(struct nrfca_policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		profile_free(&p->profiles[i]);
	free(p->profiles);
	free(p->path);
	nrfca_ratelimit_unref(p->rl);
	free(p);
}

struct nrfca_policy *nrfca_policy_ref(struct nrfca_policy *p)
{
	if (p != NULL)
		atomic_fetch_add(&p->refs, 1);
	return p;
}

void nrfca_policy_unref(struct nrfca_policy *p)
{
	if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1)
		policy_free(p);
}

int pol_load(const void *buf, size_t len, const char *name, const char *base_dir,
	     struct nrfca_ratelimit *rl, struct nrfca_policy **out, struct nrfca_err *err)
{
	static const char *const keys[] = { "version", "description", "default_profile",
					    "trust_dir", "profiles", NULL };
	struct ld c = { .file = name, .base_dir = base_dir, .err = err };
	const char *trust_dir;
	struct nrfca_policy *p = NULL;
	json_t *root = NULL, *profs, *v;
	json_error_t je;
	const char *k, *def;
	char pk[80], path[PATH_BUF];
	long long version;
	size_t i;
	int rc = -1;

	if (len > NRFCA_POLICY_FILE_MAX)
		return nrfca_err_set(err, NRFCA_E_TOO_LARGE, "%s: %zu bytes, more than the limit of %u",
				     name, len, NRFCA_POLICY_FILE_MAX);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "%s: line %d, column %d: invalid JSON: %s", name,
			      je.line, je.column, je.text);
		goto out;
	}
	if (depth_ok(&c, root, "$", 1) != 0)
		goto out;
	if (want_object(&c, root, "$") != 0 || check_keys(&c, root, "$", keys) != 0)
		goto out;
	if (json_object_get(root, "version") == NULL) {
		cfg_err(&c, "$.version", "missing: this format is version 1");
		goto out;
	}
	if (get_int(&c, root, "version", "$", 1, 1, 1, &version) != 0)
		goto out;
	if (get_str(&c, root, "description", "$", 4096, "", &def) != 0)
		goto out;
	/* trust_dir: relative to the policy's folder; default the shipped one */
	if (get_str(&c, root, "trust_dir", "$", 4096, NULL, &trust_dir) != 0)
		goto out;
	if (trust_dir != NULL) {
		c.trust_dir = resolve(&c, trust_dir);
	} else if ((c.trust_dir = malloc(strlen(nrfca_data_dir()) + 7)) != NULL) {
		strcpy(c.trust_dir, nrfca_data_dir());
		strcat(c.trust_dir, "/trust");
	}
	if (c.trust_dir == NULL)
		goto nomem;
	profs = json_object_get(root, "profiles");
	if (profs == NULL || !json_is_object(profs) || json_object_size(profs) == 0) {
		cfg_err(&c, "$.profiles", "must be a non-empty object of profiles");
		goto out;
	}
	if (json_object_size(profs) > POL_PROFILES_MAX) {
		cfg_err(&c, "$.profiles", "more than %d profiles", POL_PROFILES_MAX);
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		goto nomem;
	atomic_init(&p->refs, 1);
	SHA256(buf, len, p->sha256);
	p->path = strdup(name);
	p->profiles = calloc(json_object_size(profs), sizeof(*p->profiles));
	p->rl = rl != NULL ? nrfca_ratelimit_ref(rl) : nrfca_ratelimit_new();
	if (p->path == NULL || p->profiles == NULL || p->rl == NULL)
		goto nomem;
	json_object_foreach(profs, k, v) {
		if (!valid_profile_name(k)) {
			snprintf(path, sizeof(path), "$.profiles[\"%s\"]", printable(k, pk, sizeof(pk)));
			cfg_err(&c, path, "a profile name is 1 to %d of A-Z a-z 0-9 . _ -", POL_NAME_MAX);
			goto out;
		}
		p->n++;
		if (load_profile(&c, k, v, &p->profiles[p->n - 1]) != 0)
			goto out;
	}
	if (get_str(&c, root, "default_profile", "$", POL_NAME_MAX, NULL, &def) != 0)
		goto out;
	if (def == NULL) {
		cfg_err(&c, "$.default_profile", "missing: name the profile used when a request names none");
		goto out;
	}
	for (i = 0; i < p->n; i++)
		if (strcmp(p->profiles[i].name, def) == 0)
			break;
	if (i == p->n) {
		cfg_err(&c, "$.default_profile", "\"%s\" is not one of the profiles",
			printable(def, pk, sizeof(pk)));
		goto out;
	}
	if (!p->profiles[i].enabled) {
		cfg_err(&c, "$.default_profile", "profile \"%s\" is disabled", def);
		goto out;
	}
	p->default_idx = i;
	*out = p;
	p = NULL;
	rc = 0;
	goto out;
nomem:
	nrfca_err_set(err, NRFCA_E_NOMEM, "%s: out of memory", name);
out:
	policy_free(p);
	json_decref(root);
	free(c.trust_dir);
	return rc;
}

const unsigned char *nrfca_policy_sha256(const struct nrfca_policy *p)
{
	return p->sha256;
}

int nrfca_policy_load_buffer(const void *buf, size_t len, const char *name, const char *base_dir,
			     struct nrfca_policy **out, struct nrfca_err *err)
{
	return pol_load(buf, len, name, base_dir, NULL, out, err);
}

int pol_load_file(const char *path, struct nrfca_ratelimit *rl, struct nrfca_policy **out,
		  struct nrfca_err *err)
{
	char *buf = NULL, *dir = NULL, *slash;
	size_t len;
	int rc = -1;

	if (nrfca_read_file(path, NRFCA_POLICY_FILE_MAX, &buf, &len, err) != 0)
		return -1;
	dir = strdup(path);
	if (dir == NULL) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	rc = pol_load(buf, len, path, dir, rl, out, err);
out:
	free(buf);
	free(dir);
	return rc;
}

int nrfca_policy_load_file(const char *path, struct nrfca_policy **out, struct nrfca_err *err)
{
	return pol_load_file(path, NULL, out, err);
}

const char *nrfca_on_existing_name(enum nrfca_on_existing m)
{
	if ((unsigned)m >= NRFCA_ON_EXISTING_MAX)
		return "unknown";
	return on_existing_names[m];
}

const char *nrfca_supersede_from_name(enum nrfca_supersede_from m)
{
	if ((unsigned)m >= NRFCA_SUPERSEDE_FROM_MAX)
		return "unknown";
	return supersede_from_names[m];
}

/* Append to buf (bounded); returns the new length. */
static size_t cat(char *buf, size_t len, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static size_t cat(char *buf, size_t len, size_t n, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (n >= len)
		return n;
	va_start(ap, fmt);
	k = vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
	if (k < 0)
		return n;
	return n + (size_t)k >= len ? len - 1 : n + (size_t)k;
}

static size_t names(char *buf, size_t len, size_t n, char *const *v, size_t count)
{
	size_t i;

	for (i = 0; i < count && i < 8; i++)
		n = cat(buf, len, n, "%s%s", i ? ", " : "", v[i]);
	if (count > 8)
		n = cat(buf, len, n, " and %zu more", count - 8);
	return n;
}

size_t nrfca_profile_trust_warning(const struct nrfca_profile *pr, char *buf, size_t len)
{
	int csr = (pr->inputs & (1u << NRFCA_INPUT_CSR)) != 0;
	size_t n = 0;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	if (!pr->enabled || (!csr && (pr->n_idkeys > 0 || pr->verify_identity)))
		return 0;
	n = cat(buf, len, n, "profile '%s' ", pr->name);
	if (csr)
		n = cat(buf, len, n, "takes plain CSRs, so nothing proves the key is in a modem: ");
	else
		n = cat(buf, len, n, "does not check who signed the attestation (no identity_keys, "
			"no attestation.verify_with): ");
	if (!pr->has_stations && !pr->has_groups) {
		n = cat(buf, len, n, "every station");
	} else {
		n = cat(buf, len, n, "a station");
		if (pr->has_stations) {
			n = cat(buf, len, n, " among ");
			n = names(buf, len, n, pr->stations, pr->n_stations);
		}
		if (pr->has_groups) {
			n = cat(buf, len, n, "%s in group ", pr->has_stations ? " or" : "");
			n = names(buf, len, n, pr->groups, pr->n_groups);
		}
	}
	n = cat(buf, len, n, " is trusted to present genuine modem output and can obtain a "
		"certificate for its own key under ");
	if (pr->has_allow)
		n = cat(buf, len, n, "any device id on the allow-list %s", pr->allow.path);
	else if (pr->cn_source == POL_CN_ATTESTED_UUID)
		n = cat(buf, len, n, "any device UUID it names");
	else if (pr->cn_source == POL_CN_IMEI)
		n = cat(buf, len, n, "any IMEI it names");
	else
		n = cat(buf, len, n, "any CN the profile's cn rules accept");
	if (pr->require_known_device)
		n = cat(buf, len, n, ", limited to the devices imported for it or its groups "
			"(require_known_device)");
	if (pr->on_existing != NRFCA_ON_EXISTING_SUPERSEDE)
		n = cat(buf, len, n, ", as long as the device holds no active certificate (a "
			"device not yet provisioned can be claimed first)");
	else if (pr->supersede_from != NRFCA_SUPERSEDE_ANY)
		n = cat(buf, len, n, ", as long as no station out of its scope holds an active "
			"certificate for it (a device not yet provisioned can be claimed first)");
	switch (pr->on_existing) {
	case NRFCA_ON_EXISTING_REJECT:
		n = cat(buf, len, n, "; it cannot replace a device's active certificate "
			"(on_existing reject)");
		break;
	case NRFCA_ON_EXISTING_REPLAY:
		n = cat(buf, len, n, "; it cannot replace a device's active certificate, only "
			"receive it again for the same key (on_existing replay)");
		break;
	case NRFCA_ON_EXISTING_SUPERSEDE:
	default:
		n = cat(buf, len, n, "; it can revoke and replace a device's active certificate "
			"issued through %s (supersede_from %s)",
			pr->supersede_from == NRFCA_SUPERSEDE_ANY ? "ANY station" :
			pr->supersede_from == NRFCA_SUPERSEDE_STATION_GROUP ?
			"itself or a station sharing a group with it" : "itself only",
			supersede_from_names[pr->supersede_from]);
		if (pr->rl_supersede)
			n = cat(buf, len, n, ", at most %u an hour", pr->rl_supersede);
		else
			n = cat(buf, len, n, ", without a supersede limit");
		break;
	}
	if (pr->rl_station)
		n = cat(buf, len, n, "; at most %u certificates a minute", pr->rl_station);
	else
		n = cat(buf, len, n, "; without a rate limit");
	n = cat(buf, len, n, ". %s", csr ? "Restrict \"stations\" or keep it disabled." :
		"To check signatures, set attestation.verify_with \"nrf-cloud-identity\" or "
		"attestation.identity_keys (policies/README.md).");
	return n;
}

int policy_check_file(const char *path, FILE *report, struct nrfca_err *err)
{
	static const char *const cn_desc[POL_CN_MAX] = {
		[POL_CN_ANY] = "any CN",
		[POL_CN_ATTESTED_UUID] = "CN = attested device UUID",
		[POL_CN_IMEI] = "CN = IMEI with Luhn check",
		[POL_CN_PATTERN] = "CN matches a pattern",
	};
	struct nrfca_policy *p = NULL;
	struct nrfca_err e;
	size_t i;

	if (err == NULL)
		err = &e;
	if (nrfca_policy_load_file(path, &p, err) != 0) {
		if (report != NULL)
			fprintf(report, "%s\n", err->msg);
		return -1;
	}
	if (report != NULL) {
		fprintf(report, "%s: OK, %zu profile%s, default \"%s\"\n", path, p->n,
			p->n == 1 ? "" : "s", p->profiles[p->default_idx].name);
		for (i = 0; i < p->n; i++) {
			const struct nrfca_profile *pr = &p->profiles[i];

			int csr_only = pr->inputs == (1u << NRFCA_INPUT_CSR);

			char warn[1024];

			fprintf(report, "  %-16s %s; input %s; %s%s; attestation %s%s; %zu identity key%s%s; "
				"on_existing %s (supersede_from %s); validity %d/%d days; trust bundle "
				"%zu bytes%s%s%s%s%s\n",
				pr->name, pr->enabled ? "enabled" : "DISABLED",
				pr->inputs == (1u << NRFCA_INPUT_KEYGEN) ? "keygen" :
				csr_only ? "csr (host-generated keys)" : "any",
				cn_desc[pr->cn_source],
				pr->has_re && pr->cn_source != POL_CN_PATTERN ? " and a pattern" : "",
				csr_only ? "none" : pr->att_required ? "required" : "optional",
				!csr_only && pr->binding_required ? " with binding" : "",
				pr->n_idkeys, pr->n_idkeys == 1 ? "" : "s",
				pr->verify_identity ? (pr->identity_fail_open ?
					"; verified by nRF Cloud's Identity Service (issues when it is down)" :
					"; verified by nRF Cloud's Identity Service") : "",
				on_existing_names[pr->on_existing],
				supersede_from_names[pr->supersede_from], pr->validity_default,
				pr->validity_max, pr->trust_len,
				pr->has_stations ? "; stations restricted" : "",
				pr->has_groups ? "; groups restricted" : "",
				pr->has_allow ? "; allow-list" : "",
				pr->has_deny ? "; deny-list" : "",
				pr->require_known_device ? "; expected devices only" : "");
			if (pr->ext.n_crl_dp > 0)
				fprintf(report, "  %-16s CRL distribution point %s%s\n", pr->name,
					pr->ext.crl_dp[0], pr->ext.n_crl_dp > 1 ? " (and more)" : "");
			if (pr->ext.n_ca_issuers > 0)
				fprintf(report, "  %-16s caIssuers %s%s\n", pr->name, pr->ext.ca_issuers[0],
					pr->ext.n_ca_issuers > 1 ? " (and more)" : "");
			if (pr->enabled && pr->inputs & (1u << NRFCA_INPUT_CSR))
				fprintf(report, "  %-16s warning: accepts plain CSRs (keys made outside the "
					"modem), the less secure path\n", pr->name);
			if (nrfca_profile_trust_warning(pr, warn, sizeof(warn)) > 0)
				fprintf(report, "  %-16s warning: %s\n", pr->name, warn);
		}
	}
	nrfca_policy_unref(p);
	return 0;
}
