/* preflight.c - the station's checks with the CA before a modem is touched (see preflight.h). */
#include "preflight.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nrf91.h"

#define PROFILES_JSON_MAX (256u * 1024u)
#define PATTERN_MAX 256u
#define BUNDLE_MAX (64u * 1024u)

void nrfca_station_profile_clear(struct nrfca_station_profile *p)
{
	if (p->has_re)
		regfree(&p->re);
	free(p->pattern);
	free(p->trust_bundle);
	memset(p, 0, sizeof(*p));
}

static int bad(struct nrfca_err *e, const char *what)
{
	return nrfca_err_set(e, NRFCA_E_INPUT, "the CA's profile list (GET /v1/profiles) is "
			     "malformed: %s", what);
}

static int parse_cn(json_t *cn, struct nrfca_station_profile *p, struct nrfca_err *e)
{
	static const char *const sources[] = { "attested_uuid", "imei", "pattern", "any" };
	json_t *v, *f;
	const char *s;
	size_t i;
	int ok = 0;

	if (cn == NULL || json_is_null(cn))
		return 0;
	if (!json_is_object(cn))
		return bad(e, "\"cn\" is not an object");
	s = json_string_value(json_object_get(cn, "source"));
	if (s == NULL)
		return bad(e, "\"cn\" has no \"source\"");
	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		ok |= strcmp(s, sources[i]) == 0;
	if (!ok)
		return bad(e, "unknown CN source");
	snprintf(p->cn_source, sizeof(p->cn_source), "%s", s);
	v = json_object_get(cn, "imei_forms");
	if (v != NULL) {
		if (!json_is_array(v) || json_array_size(v) > 2)
			return bad(e, "\"imei_forms\" is not a list of at most two forms");
		json_array_foreach(v, i, f) {
			s = json_string_value(f);
			if (s != NULL && strcmp(s, "nrf-imei") == 0)
				p->imei_nrf = 1;
			else if (s != NULL && strcmp(s, "imei") == 0)
				p->imei_bare = 1;
			else
				return bad(e, "unknown IMEI form");
		}
	} else if (strcmp(p->cn_source, "imei") == 0) {
		p->imei_nrf = 1;          /* the policy's default form */
	}
	v = json_object_get(cn, "pattern");
	if (v != NULL && !json_is_null(v)) {
		s = json_string_value(v);
		if (s == NULL || strlen(s) == 0 || strlen(s) > PATTERN_MAX)
			return bad(e, "\"pattern\" is not a string of 1..256 characters");
		p->pattern = strdup(s);
		if (p->pattern == NULL)
			return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
		if (regcomp(&p->re, s, REG_EXTENDED | REG_NOSUB) != 0)
			return bad(e, "\"pattern\" is not a POSIX extended regular expression");
		p->has_re = 1;
	}
	v = json_object_get(cn, "max_length");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 1024)
			return bad(e, "\"max_length\" is not 1..1024");
		p->cn_max = (int)json_integer_value(v);
	}
	return 0;
}

/* "16842753" or "1-5" (or an integer). */
static int parse_range(json_t *v, uint64_t *lo, uint64_t *hi)
{
	const char *s;
	char *end;
	unsigned long long a, b;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0 || json_integer_value(v) > 4294967295LL)
			return -1;
		*lo = *hi = (uint64_t)json_integer_value(v);
		return 0;
	}
	s = json_string_value(v);
	if (s == NULL || !isdigit((unsigned char)s[0]) || strlen(s) > 24)
		return -1;
	a = strtoull(s, &end, 10);
	if (*end == '\0') {
		b = a;
	} else {
		if (*end != '-' || !isdigit((unsigned char)end[1]))
			return -1;
		b = strtoull(end + 1, &end, 10);
		if (*end != '\0')
			return -1;
	}
	if (a > b || b > 4294967295ULL)
		return -1;
	*lo = a;
	*hi = b;
	return 0;
}

static int parse_profile(json_t *o, struct nrfca_station_profile *p, struct nrfca_err *e)
{
	json_t *v, *x;
	const char *s;
	size_t i;

	if (parse_cn(json_object_get(o, "cn"), p, e) != 0)
		return -1;
	v = json_object_get(o, "sec_tags");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_array(v) || json_array_size(v) > NRFCA_PREFLIGHT_MAX_RANGES)
			return bad(e, "\"sec_tags\" is not a list of at most 64 sec_tags or ranges");
		json_array_foreach(v, i, x)
			if (parse_range(x, &p->lo[i], &p->hi[i]) != 0)
				return bad(e, "a sec_tag is not a number or \"FIRST-LAST\"");
		p->n_ranges = json_array_size(v);
		p->sec_tags_known = 1;
	}
	v = json_object_get(o, "input");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_array(v) || json_array_size(v) > 2)
			return bad(e, "\"input\" is not a list of at most two kinds");
		json_array_foreach(v, i, x) {
			s = json_string_value(x);
			if (s != NULL && strcmp(s, "keygen") == 0)
				p->input_keygen = 1;
			else if (s != NULL && strcmp(s, "csr") == 0)
				p->input_csr = 1;
			else
				return bad(e, "unknown input kind");
		}
		p->inputs_known = 1;
	}
	v = json_object_get(o, "trust_bundle");
	if (v != NULL && !json_is_null(v)) {
		s = json_string_value(v);
		if (s == NULL || strlen(s) > BUNDLE_MAX)
			return bad(e, "\"trust_bundle\" is not a string of at most 64 KiB");
		if (s[0] != '\0' && (p->trust_bundle = strdup(s)) == NULL)
			return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	}
	return 0;
}

int nrfca_preflight_pick(const char *json, size_t len, const char *name,
			 struct nrfca_station_profile *out, struct nrfca_err *e)
{
	json_t *doc = NULL, *arr, *o, *pick = NULL;
	json_error_t je;
	size_t i, used = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (len > PROFILES_JSON_MAX)
		return nrfca_err_set(e, NRFCA_E_TOO_LARGE, "the CA's profile list is over %u bytes",
				     PROFILES_JSON_MAX);
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	arr = json_object_get(doc, "profiles");
	if (!json_is_object(doc) || !json_is_array(arr) ||
	    json_array_size(arr) > NRFCA_PREFLIGHT_MAX_PROFILES) {
		bad(e, "no \"profiles\" list of at most 64 profiles");
		goto out;
	}
	json_array_foreach(arr, i, o) {
		const char *n = json_string_value(json_object_get(o, "name"));

		if (!json_is_object(o) || n == NULL || n[0] == '\0' || strlen(n) > 64) {
			bad(e, "a profile without a name of 1..64 characters");
			goto out;
		}
		if (used + strlen(n) + 3 < sizeof(out->others))
			used += (size_t)snprintf(out->others + used, sizeof(out->others) - used,
						 "%s%s", used ? ", " : "", n);
		if (pick == NULL && (name != NULL ? strcmp(n, name) == 0 :
				     json_is_true(json_object_get(o, "default"))))
			pick = o;
	}
	if (used == 0)
		snprintf(out->others, sizeof(out->others), "none");
	if (pick == NULL) {
		if (name != NULL)
			nrfca_err_set(e, NRFCA_E_NOTFOUND, "profile \"%.64s\" is not offered to this "
				      "station (it does not exist, is disabled, or this station may "
				      "not use it); profiles offered: %s", name, out->others);
		else
			nrfca_err_set(e, NRFCA_E_NOTFOUND, "the CA offers this station no default "
				      "profile; choose one with --profile (offered: %s)", out->others);
		goto out;
	}
	snprintf(out->name, sizeof(out->name), "%s", json_string_value(json_object_get(pick, "name")));
	if (parse_profile(pick, out, e) != 0)
		goto out;
	rc = 0;
out:
	json_decref(doc);
	if (rc != 0) {
		char others[sizeof(out->others)];

		memcpy(others, out->others, sizeof(others));
		nrfca_station_profile_clear(out);
		memcpy(out->others, others, sizeof(others));
	}
	return rc;
}

static int is_uuid_lower(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f')) {
			return 0;
		}
	}
	return 1;
}

static int is_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return s[n] == '\0';
}

static int refuse(struct nrfca_err *e, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(struct nrfca_err *e, const char *rule, const char *fmt, ...)
{
	char msg[NRFCA_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return nrfca_err_set(e, NRFCA_E_POLICY, "%s [rule %s]", msg, rule);
}

/* The IMEI digits a CN names under the profile's forms, or NULL. */
static const char *imei_of_cn(const struct nrfca_station_profile *p, const char *cn)
{
	if (p->imei_nrf && strncmp(cn, "nrf-", 4) == 0 && is_digits(cn + 4, 15))
		return cn + 4;
	if (p->imei_bare && is_digits(cn, 15))
		return cn;
	return NULL;
}

static const char *imei_forms_text(const struct nrfca_station_profile *p)
{
	return p->imei_nrf && p->imei_bare ? "nrf-<IMEI> or <IMEI> (--id nrf-imei or --id imei)" :
	       p->imei_bare ? "<IMEI> (--id imei)" : "nrf-<IMEI> (--id nrf-imei)";
}

/* The rule checks common to a fixed CN and a device's CN. */
static int check_cn_text(const struct nrfca_station_profile *p, const char *cn,
			 const char *imei, struct nrfca_err *e)
{
	const char *digits;

	if (p->cn_max > 0 && strlen(cn) > (size_t)p->cn_max)
		return refuse(e, "cn_length", "CN \"%.64s\" is longer than the %d characters profile "
			      "%s allows", cn, p->cn_max, p->name);
	if (strcmp(p->cn_source, "imei") == 0) {
		digits = imei_of_cn(p, cn);
		if (digits == NULL)
			return refuse(e, "cn_imei_form", "profile %s certifies %s, not \"%.64s\"",
				      p->name, imei_forms_text(p), cn);
		if (!nrf91_imei_valid(digits))
			return refuse(e, "luhn", "the IMEI in CN \"%.64s\" fails its Luhn check digit "
				      "(profile %s)", cn, p->name);
		if (imei != NULL && imei[0] != '\0' && strcmp(digits, imei) != 0)
			return refuse(e, "imei_mismatch", "CN \"%.64s\" names another IMEI than the "
				      "modem's %s (profile %s)", cn, imei, p->name);
	}
	if (p->has_re && regexec(&p->re, cn, 0, NULL, 0) != 0)
		return refuse(e, "cn_pattern", "CN \"%.64s\" does not match the pattern %.120s of "
			      "profile %s", cn, p->pattern, p->name);
	return 0;
}

int nrfca_preflight_request(const struct nrfca_station_profile *p, int host_key,
			    uint32_t sec_tag, const char *id, struct nrfca_err *e)
{
	const char *src = p->cn_source;
	size_t i;
	int in = 0;

	if (p->inputs_known && !(host_key ? p->input_csr : p->input_keygen))
		return refuse(e, "input", "profile %s does not accept %s; choose another --profile "
			      "(offered: %.200s)", p->name, host_key ?
			      "a key made on the station (--host-key)" : "%KEYGEN requests",
			      p->others);
	if (p->sec_tags_known) {
		for (i = 0; i < p->n_ranges; i++)
			in |= sec_tag >= p->lo[i] && sec_tag <= p->hi[i];
		if (!in)
			return refuse(e, "sec_tag", "profile %s does not allow sec_tag %u; choose "
				      "another --sec-tag", p->name, (unsigned)sec_tag);
	}
	if (id == NULL || strcmp(id, "uuid") == 0) {
		if (strcmp(src, "imei") == 0 && !host_key)
			return refuse(e, "cn_imei_form", "profile %s certifies %s, not the device "
				      "UUID the modem puts in its CSR by default", p->name,
				      imei_forms_text(p));
		return 0;
	}
	if (strcmp(id, "imei") == 0 || strcmp(id, "nrf-imei") == 0) {
		int nrf = id[0] == 'n';

		if (strcmp(src, "attested_uuid") == 0)
			return refuse(e, "cn_uuid", "profile %s certifies the attested device UUID "
				      "as the CN, so --id %s would be refused; leave out --id, or "
				      "choose a profile for IMEI ids (offered: %.200s)", p->name, id,
				      p->others);
		if (strcmp(src, "imei") == 0 && !(nrf ? p->imei_nrf : p->imei_bare))
			return refuse(e, "cn_imei_form", "profile %s certifies %s; --id %s would "
				      "be refused", p->name, imei_forms_text(p), id);
		return 0;
	}
	/* a fixed CN */
	if (strcmp(src, "attested_uuid") == 0 && !is_uuid_lower(id))
		return refuse(e, "cn_uuid", "profile %s certifies the attested device UUID as the "
			      "CN; a fixed CN \"%.64s\" would be refused", p->name, id);
	return check_cn_text(p, id, NULL, e);
}

int nrfca_preflight_cn(const struct nrfca_station_profile *p, const char *cn,
		       const char *imei, const char *uuid, struct nrfca_err *e)
{
	if (cn == NULL) {
		if (uuid == NULL || uuid[0] == '\0')
			return 0;           /* the modem's UUID is known only from %KEYGEN */
		cn = uuid;
	}
	if (strcmp(p->cn_source, "attested_uuid") == 0 && uuid != NULL && uuid[0] != '\0' &&
	    strcmp(cn, uuid) != 0)
		return refuse(e, "cn_uuid", "CN \"%.64s\" is not the device UUID %s the modem "
			      "attests (profile %s)", cn, uuid, p->name);
	return check_cn_text(p, cn, imei, e);
}
