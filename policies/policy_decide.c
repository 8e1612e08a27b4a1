/*
 * policy_decide.c - the decision for one enrollment under one profile.
 * Rules are checked in the order of enum nrfca_policy_rule; the first that
 * fails decides.  Rate-limit tokens are taken only when every other rule
 * allows, so N per minute means N certificates per minute.
 */
#include "policy_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/objects.h>

static const char *const rule_names[NRFCA_RULE_MAX] = {
	[NRFCA_RULE_NONE] = "",
	[NRFCA_RULE_PROFILE_UNKNOWN] = "profile_unknown",
	[NRFCA_RULE_PROFILE_DISABLED] = "profile_disabled",
	[NRFCA_RULE_STATION] = "station",
	[NRFCA_RULE_INPUT] = "input",
	[NRFCA_RULE_ATTESTATION_REQUIRED] = "attestation_required",
	[NRFCA_RULE_ATTESTATION_BINDING] = "attestation_binding",
	[NRFCA_RULE_PAYLOAD_ID] = "payload_id",
	[NRFCA_RULE_ATTESTATION_SIGNATURE] = "attestation_signature",
	[NRFCA_RULE_KEY_TYPE] = "key_type",
	[NRFCA_RULE_KEY_CURVE] = "key_curve",
	[NRFCA_RULE_KEY_SIZE] = "key_size",
	[NRFCA_RULE_SUBJECT_ATTRIBUTE] = "subject_attribute",
	[NRFCA_RULE_CN_MISSING] = "cn_missing",
	[NRFCA_RULE_CN_LENGTH] = "cn_length",
	[NRFCA_RULE_CN_UUID] = "cn_uuid",
	[NRFCA_RULE_CN_IMEI_FORM] = "cn_imei_form",
	[NRFCA_RULE_LUHN] = "luhn",
	[NRFCA_RULE_IMEI_MISMATCH] = "imei_mismatch",
	[NRFCA_RULE_CN_PATTERN] = "cn_pattern",
	[NRFCA_RULE_SEC_TAG] = "sec_tag",
	[NRFCA_RULE_DENY_LIST] = "deny_list",
	[NRFCA_RULE_ALLOW_LIST] = "allow_list",
	[NRFCA_RULE_KNOWN_DEVICE] = "known_device",
	[NRFCA_RULE_VALIDITY] = "validity",
	[NRFCA_RULE_ATTESTATION_IDENTITY] = "attestation_identity",
	[NRFCA_RULE_IDENTITY_UNAVAILABLE] = "identity_unavailable",
	[NRFCA_RULE_ON_EXISTING] = "on_existing",
	[NRFCA_RULE_SUPERSEDE_SCOPE] = "supersede_scope",
	[NRFCA_RULE_RATE_LIMIT] = "rate_limit",
	[NRFCA_RULE_SUPERSEDE_RATE] = "supersede_rate_limit",
};

static const char *const verdict_names[NRFCA_IDENTITY_MAX] = {
	[NRFCA_IDENTITY_NOT_ASKED] = "not_asked",
	[NRFCA_IDENTITY_GENUINE] = "genuine",
	[NRFCA_IDENTITY_FORGED] = "forged",
	[NRFCA_IDENTITY_UNKNOWN_DEVICE] = "unknown_device",
	[NRFCA_IDENTITY_UNAVAILABLE] = "unavailable",
};

const char *nrfca_identity_verdict_name(enum nrfca_identity_verdict v)
{
	if ((unsigned)v >= NRFCA_IDENTITY_MAX)
		return "unknown";
	return verdict_names[v];
}

const char *nrfca_policy_rule_name(enum nrfca_policy_rule r)
{
	if ((unsigned)r >= NRFCA_RULE_MAX)
		return "unknown";
	return rule_names[r];
}

int nrfca_luhn_ok(const char *d)
{
	int sum = 0, i, v;

	for (i = 0; i < 15; i++)
		if (d[i] < '0' || d[i] > '9')
			return 0;
	if (d[15] != '\0')
		return 0;
	/* from the right: the check digit as is, every second digit doubled */
	for (i = 14; i >= 0; i--) {
		v = d[i] - '0';
		if ((14 - i) % 2 == 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

int nrfca_is_uuid_lower(const char *s)
{
	size_t i;

	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return s[36] == '\0';
}

int nrfca_is_uuid_any_case(const char *s, size_t n)
{
	size_t i;

	if (n != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

static int is_15_digits(const char *s)
{
	size_t i;

	for (i = 0; i < 15; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return s[15] == '\0';
}

/* Untrusted text for a message: at most 64 characters, non-printables as '?'. */
static const char *show(const char *s, char buf[72])
{
	size_t i;

	if (s == NULL)
		return "(none)";
	for (i = 0; s[i] != '\0' && i < 64; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0') {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static int deny(struct nrfca_policy_decision *d, struct nrfca_err *err,
		enum nrfca_policy_rule rule, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int deny(struct nrfca_policy_decision *d, struct nrfca_err *err,
		enum nrfca_policy_rule rule, const char *fmt, ...)
{
	va_list ap;

	d->allow = 0;
	d->rule = rule;
	d->rule_name = rule_names[rule];
	va_start(ap, fmt);
	vsnprintf(d->detail, sizeof(d->detail), fmt, ap);
	va_end(ap);
	return nrfca_err_set(err, NRFCA_E_POLICY, "%s", d->detail);
}

const struct nrfca_profile *nrfca_policy_profile_find(const struct nrfca_policy *p,
						      const char *name)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->profiles[i].name, name) == 0)
			return &p->profiles[i];
	return NULL;
}

static int name_in(const char *name, const char *const *list, size_t n)
{
	size_t i;

	if (name == NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (list[i] != NULL && strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

int nrfca_profile_caller_allowed(const struct nrfca_profile *pr, const char *station,
				 const char *const *groups, size_t n_groups)
{
	size_t i;

	if (!pr->has_stations && !pr->has_groups)
		return 1;
	if (station == NULL)
		return 0;
	if (name_in(station, (const char *const *)pr->stations, pr->n_stations))
		return 1;
	for (i = 0; i < n_groups; i++)
		if (name_in(groups[i], (const char *const *)pr->groups, pr->n_groups))
			return 1;
	return 0;
}

int nrfca_profile_station_allowed(const struct nrfca_profile *pr, const char *station)
{
	return nrfca_profile_caller_allowed(pr, station, NULL, 0);
}

/* Do two group lists share a name? */
static int groups_meet(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	size_t i;

	for (i = 0; i < na; i++)
		if (name_in(a[i], b, nb))
			return 1;
	return 0;
}

int nrfca_profile_station_in_scope(const struct nrfca_profile *pr, const char *caller,
				   const char *const *groups, size_t n_groups,
				   const char *holder, const char *const *holder_groups,
				   size_t n_holder_groups)
{
	enum nrfca_supersede_from from = pr != NULL ? pr->supersede_from :
						      NRFCA_SUPERSEDE_SAME_STATION;

	if (caller == NULL)
		return 0;
	if (holder != NULL && strcmp(caller, holder) == 0)
		return 1;
	switch (from) {
	case NRFCA_SUPERSEDE_ANY:
		return 1;
	case NRFCA_SUPERSEDE_STATION_GROUP:
		return holder != NULL &&
		       groups_meet(groups, n_groups, holder_groups, n_holder_groups);
	case NRFCA_SUPERSEDE_SAME_STATION:
	default:
		return 0;
	}
}

const struct nrfca_profile *nrfca_policy_profile_for(const struct nrfca_policy *p,
						     const char *requested)
{
	if (requested == NULL || requested[0] == '\0')
		return &p->profiles[p->default_idx];
	return nrfca_policy_profile_find(p, requested);
}

int nrfca_profile_requires_known_device(const struct nrfca_profile *pr)
{
	return pr->require_known_device;
}

int nrfca_profile_uses_groups(const struct nrfca_profile *pr)
{
	return pr->has_groups || pr->supersede_from == NRFCA_SUPERSEDE_STATION_GROUP;
}

int nrfca_profile_uses_identity_service(const struct nrfca_profile *pr)
{
	return pr->verify_identity;
}

int nrfca_policy_uses_identity_service(const struct nrfca_policy *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->profiles[i].enabled && p->profiles[i].verify_identity)
			return 1;
	return 0;
}

enum nrfca_supersede_from nrfca_profile_supersede_from(const struct nrfca_profile *pr)
{
	return pr->supersede_from;
}

static const char *key_type_name(int t)
{
	switch (t) {
	case EVP_PKEY_EC: return "EC";
	case EVP_PKEY_RSA: return "RSA";
	case EVP_PKEY_ED25519: return "Ed25519";
	case EVP_PKEY_ED448: return "Ed448";
	default: return "unknown";
	}
}

static unsigned key_type_bit(int t)
{
	switch (t) {
	case EVP_PKEY_EC: return POL_KT_EC;
	case EVP_PKEY_RSA: return POL_KT_RSA;
	case EVP_PKEY_ED25519: return POL_KT_ED25519;
	case EVP_PKEY_ED448: return POL_KT_ED448;
	default: return 0;
	}
}

static const char *curve_name(int nid)
{
	const char *s = nid == NID_undef ? NULL : EC_curve_nid2nist(nid);

	if (s == NULL && nid != NID_undef)
		s = OBJ_nid2sn(nid);
	return s != NULL ? s : "unknown";
}

static int check_key(const struct nrfca_profile *pr, const struct nrfca_policy_facts *f,
		     struct nrfca_policy_decision *d, struct nrfca_err *err)
{
	char allowed[128] = "";
	size_t i, n = 0;

	if (!(pr->key_types & key_type_bit(f->key_type))) {
		static const char *const names[] = { "EC", "RSA", "Ed25519", "Ed448" };

		for (i = 0; i < 4; i++)
			if (pr->key_types & (1u << i))
				n += (size_t)snprintf(allowed + n, sizeof(allowed) - n, "%s%s",
						      n ? ", " : "", names[i]);
		return deny(d, err, NRFCA_RULE_KEY_TYPE,
			    "the CSR key is %s; profile '%s' allows %s keys",
			    key_type_name(f->key_type), pr->name, allowed);
	}
	if (f->key_type == EVP_PKEY_EC) {
		for (i = 0; i < pr->n_curves; i++)
			if (pr->curves[i] == f->curve_nid)
				break;
		if (i == pr->n_curves) {
			for (i = 0; i < pr->n_curves && n < sizeof(allowed); i++)
				n += (size_t)snprintf(allowed + n, sizeof(allowed) - n, "%s%s",
						      n ? ", " : "", curve_name(pr->curves[i]));
			return deny(d, err, NRFCA_RULE_KEY_CURVE,
				    "the CSR key is on curve %s; profile '%s' allows %s",
				    curve_name(f->curve_nid), pr->name, allowed);
		}
	}
	if (f->key_type == EVP_PKEY_RSA && f->key_bits < pr->rsa_min_bits)
		return deny(d, err, NRFCA_RULE_KEY_SIZE,
			    "the CSR key is RSA %d bits; profile '%s' needs at least %d",
			    f->key_bits, pr->name, pr->rsa_min_bits);
	return 0;
}

static int nid_in(int nid, const int *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (list[i] == nid)
			return 1;
	return 0;
}

static int check_subject(const struct nrfca_profile *pr, const struct nrfca_policy_facts *f,
			 struct nrfca_policy_decision *d, struct nrfca_err *err)
{
	const X509_NAME_ENTRY *ne;
	int i, n, nid, cns = 0;
	char sn[80];

	if (f->subject == NULL)
		return 0;
	n = X509_NAME_entry_count(f->subject);
	for (i = 0; i < n; i++) {
		ne = X509_NAME_get_entry(f->subject, i);
		nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(ne));
		if (nid == NID_commonName) {
			if (++cns > 1)
				return deny(d, err, NRFCA_RULE_SUBJECT_ATTRIBUTE,
					    "the CSR subject holds more than one CN");
			continue;
		}
		if (nid_in(nid, pr->refuse_nids, pr->n_refuse) ||
		    (pr->unlisted_refuse && !nid_in(nid, pr->ignore_nids, pr->n_ignore))) {
			if (nid != NID_undef)
				snprintf(sn, sizeof(sn), "%s", OBJ_nid2sn(nid));
			else
				OBJ_obj2txt(sn, sizeof(sn), X509_NAME_ENTRY_get_object(ne), 1);
			return deny(d, err, NRFCA_RULE_SUBJECT_ATTRIBUTE,
				    "the CSR subject carries %s, which profile '%s' refuses", sn,
				    pr->name);
		}
	}
	return 0;
}

/* Check the CN; on success *imei holds the IMEI it names ("" if none). */
static int check_cn(const struct nrfca_profile *pr, const struct nrfca_policy_facts *f,
		    char imei[16], struct nrfca_policy_decision *d, struct nrfca_err *err)
{
	const char *cn = f->cn, *digits;
	char a[72], b[72], uuid[37];
	size_t len, i;

	imei[0] = '\0';
	if (cn == NULL || cn[0] == '\0')
		return deny(d, err, NRFCA_RULE_CN_MISSING, "the CSR subject has no CN");
	len = strlen(cn);
	if (len > (size_t)pr->cn_max)
		return deny(d, err, NRFCA_RULE_CN_LENGTH,
			    "CN '%s' is %zu characters; profile '%s' allows at most %d",
			    show(cn, a), len, pr->name, pr->cn_max);
	for (i = 0; i < len; i++)
		if ((unsigned char)cn[i] < 0x21 || (unsigned char)cn[i] > 0x7e)
			return deny(d, err, NRFCA_RULE_CN_PATTERN,
				    "CN '%s' holds a space, control or non-ASCII character",
				    show(cn, a));
	switch (pr->cn_source) {
	case POL_CN_ATTESTED_UUID:
		if (!f->has_attestation || f->attested_uuid == NULL ||
		    strlen(f->attested_uuid) != 36)
			return deny(d, err, NRFCA_RULE_CN_UUID,
				    "CN '%s' cannot be checked: the request carries no attested device UUID",
				    show(cn, a));
		for (i = 0; i < 36; i++)
			uuid[i] = (char)tolower((unsigned char)f->attested_uuid[i]);
		uuid[36] = '\0';
		if (strcmp(cn, uuid) != 0 || !nrfca_is_uuid_lower(cn))
			return deny(d, err, NRFCA_RULE_CN_UUID,
				    "CN '%s' is not the attested device UUID '%s'", show(cn, a),
				    show(uuid, b));
		break;
	case POL_CN_IMEI:
		if ((pr->imei_forms & POL_IMEI_FORM_NRF) && strncmp(cn, "nrf-", 4) == 0 &&
		    is_15_digits(cn + 4))
			digits = cn + 4;
		else if ((pr->imei_forms & POL_IMEI_FORM_BARE) && is_15_digits(cn))
			digits = cn;
		else
			return deny(d, err, NRFCA_RULE_CN_IMEI_FORM,
				    "CN '%s' is not %s%s%s", show(cn, a),
				    (pr->imei_forms & POL_IMEI_FORM_NRF) ? "nrf-<15-digit IMEI>" : "",
				    pr->imei_forms == (POL_IMEI_FORM_NRF | POL_IMEI_FORM_BARE) ? " or " : "",
				    (pr->imei_forms & POL_IMEI_FORM_BARE) ? "a 15-digit IMEI" : "");
		if (!nrfca_luhn_ok(digits))
			return deny(d, err, NRFCA_RULE_LUHN,
				    "IMEI %s in CN '%s' fails the Luhn check (check digit %c)", digits,
				    show(cn, a), digits[14]);
		if (f->imei != NULL && strcmp(f->imei, digits) != 0)
			return deny(d, err, NRFCA_RULE_IMEI_MISMATCH,
				    "CN '%s' names IMEI %s but the station read IMEI '%s' from the modem",
				    show(cn, a), digits, show(f->imei, b));
		memcpy(imei, digits, 15);
		imei[15] = '\0';
		break;
	default:
		break;
	}
	if (pr->has_re && regexec(&pr->re, cn, 0, NULL, 0) != 0)
		return deny(d, err, NRFCA_RULE_CN_PATTERN,
			    "CN '%s' does not match the pattern %s of profile '%s'", show(cn, a),
			    pr->pattern, pr->name);
	return 0;
}

static int check_attestation(const struct nrfca_profile *pr, const struct nrfca_policy_facts *f,
			     struct nrfca_policy_decision *d, struct nrfca_err *err)
{
	size_t i;
	int r, errors = 0;

	if (!f->has_attestation) {
		if (pr->att_required)
			return deny(d, err, NRFCA_RULE_ATTESTATION_REQUIRED,
				    "profile '%s' requires the modem's attestation (%%KEYGEN output); "
				    "the request carries none", pr->name);
		return 0;
	}
	if (pr->binding_required && !f->binding_ok)
		return deny(d, err, NRFCA_RULE_ATTESTATION_BINDING,
			    "the attestation's digest is not the SHA-256 of the attested CSR");
	if (pr->payload_csr && f->payload_id != 9)
		return deny(d, err, NRFCA_RULE_PAYLOAD_ID,
			    "the attestation's payload id is %d; profile '%s' needs 9 (CSR)",
			    f->payload_id, pr->name);
	if (pr->inputs == (1u << NRFCA_INPUT_PUBLIC_KEY) && f->payload_id != 8)
		return deny(d, err, NRFCA_RULE_PAYLOAD_ID,
			    "the attestation's payload id is %d; profile '%s' needs 8 (public key)",
			    f->payload_id, pr->name);
	if (pr->n_idkeys == 0)
		return 0;
	if (f->verify == NULL)
		return deny(d, err, NRFCA_RULE_ATTESTATION_SIGNATURE,
			    "profile '%s' has %zu identity keys but the attestation signature "
			    "was not offered for verification", pr->name, pr->n_idkeys);
	for (i = 0; i < pr->n_idkeys; i++) {
		r = f->verify(f->verify_ctx, pr->idkeys[i]);
		if (r == 1)
			return 0;
		if (r < 0)
			errors++;
	}
	return deny(d, err, NRFCA_RULE_ATTESTATION_SIGNATURE,
		    "the attestation signature of device '%s' verifies with none of the %zu "
		    "identity keys of profile '%s'%s", f->attested_uuid ? f->attested_uuid : "?",
		    pr->n_idkeys, pr->name, errors ? " (some checks failed internally)" : "");
}

static int check_sec_tag(const struct nrfca_profile *pr, const struct nrfca_policy_facts *f,
			 struct nrfca_policy_decision *d, struct nrfca_err *err)
{
	size_t i;

	if (!pr->has_sec_tags)
		return 0;
	if (!f->has_sec_tag)
		return deny(d, err, NRFCA_RULE_SEC_TAG,
			    "profile '%s' restricts sec_tags; the request carries no attested sec_tag",
			    pr->name);
	for (i = 0; i < pr->n_sec_tags; i++)
		if (f->sec_tag >= pr->sec_tags[i].lo && f->sec_tag <= pr->sec_tags[i].hi)
			return 0;
	return deny(d, err, NRFCA_RULE_SEC_TAG, "sec_tag %llu is not allowed by profile '%s'",
		    (unsigned long long)f->sec_tag, pr->name);
}

/* The device's identifiers in list form (lower-case UUIDs, 15-digit IMEIs). */
static size_t identifiers(const struct nrfca_policy_facts *f, const char *imei,
			  char ids[4][37])
{
	size_t n = 0, i, len;

	if (f->attested_uuid != NULL && strlen(f->attested_uuid) == 36) {
		for (i = 0; i < 36; i++)
			ids[n][i] = (char)tolower((unsigned char)f->attested_uuid[i]);
		ids[n++][36] = '\0';
	}
	if (f->cn != NULL && (len = strlen(f->cn)) == 36) {
		for (i = 0; i < 36; i++)
			ids[n][i] = (char)tolower((unsigned char)f->cn[i]);
		ids[n++][36] = '\0';
	}
	if (imei[0] != '\0')
		snprintf(ids[n++], 37, "%s", imei);
	if (f->imei != NULL && is_15_digits(f->imei))
		snprintf(ids[n++], 37, "%s", f->imei);
	return n;
}

static int check_lists(const struct nrfca_profile *pr, const struct nrfca_policy_facts *f,
		       const char *imei, struct nrfca_policy_decision *d, struct nrfca_err *err)
{
	char ids[4][37];
	size_t n, i;

	if (!pr->has_deny && !pr->has_allow)
		return 0;
	n = identifiers(f, imei, ids);
	if (pr->has_deny)
		for (i = 0; i < n; i++)
			if (pol_list_contains(&pr->deny, ids[i]))
				return deny(d, err, NRFCA_RULE_DENY_LIST,
					    "device %s is on the deny-list of profile '%s'", ids[i],
					    pr->name);
	if (pr->has_allow) {
		for (i = 0; i < n; i++)
			if (pol_list_contains(&pr->allow, ids[i]))
				return 0;
		return deny(d, err, NRFCA_RULE_ALLOW_LIST,
			    "device %s is not on the allow-list of profile '%s'",
			    n > 0 ? ids[0] : "(no identifier)", pr->name);
	}
	return 0;
}

static int check_known(const struct nrfca_profile *pr, const struct nrfca_policy_facts *f,
		       struct nrfca_policy_decision *d, struct nrfca_err *err)
{
	char a[72], b[72];

	if (!pr->require_known_device || f->known_device == NRFCA_KNOWN_YES)
		return 0;
	if (f->known_device == NRFCA_KNOWN_NOT_LOOKED_UP)
		return deny(d, err, NRFCA_RULE_KNOWN_DEVICE,
			    "profile '%s' takes only expected devices and the list was not consulted",
			    pr->name);
	return deny(d, err, NRFCA_RULE_KNOWN_DEVICE,
		    "device '%s' was not imported for station '%s' or its groups, and profile '%s' "
		    "takes only expected devices (nrfca-admin devices import)",
		    show(f->cn, a), show(f->station, b), pr->name);
}

static int check_identity(const struct nrfca_profile *pr, const struct nrfca_policy_facts *f,
			  struct nrfca_policy_decision *d, struct nrfca_err *err)
{
	char detail[200] = "", a[72];
	unsigned retry = 0;
	enum nrfca_identity_verdict v;

	if (!pr->verify_identity)
		return 0;
	if (f->identity == NULL) {
		d->identity_verdict = NRFCA_IDENTITY_UNAVAILABLE;
		snprintf(detail, sizeof(detail), "no identity service is configured");
		retry = 30;
		v = NRFCA_IDENTITY_UNAVAILABLE;
	} else {
		v = f->identity(f->identity_ctx, detail, sizeof(detail), &retry);
		if ((unsigned)v >= NRFCA_IDENTITY_MAX || v == NRFCA_IDENTITY_NOT_ASKED)
			v = NRFCA_IDENTITY_UNAVAILABLE;
		d->identity_verdict = v;
	}
	switch (v) {
	case NRFCA_IDENTITY_GENUINE:
		return 0;
	case NRFCA_IDENTITY_FORGED:
		return deny(d, err, NRFCA_RULE_ATTESTATION_IDENTITY,
			    "nRF Cloud's Identity Service does not accept the attestation of device "
			    "'%s' as signed by that device%s%s", show(f->attested_uuid, a),
			    detail[0] ? ": " : "", detail);
	case NRFCA_IDENTITY_UNKNOWN_DEVICE:
		return deny(d, err, NRFCA_RULE_ATTESTATION_IDENTITY,
			    "nRF Cloud's Identity Service holds no identity key for device '%s' "
			    "(nRF9160 modems are verified only after arrangement with Nordic "
			    "support)%s%s", show(f->attested_uuid, a), detail[0] ? ": " : "",
			    detail);
	case NRFCA_IDENTITY_UNAVAILABLE:
	default:
		if (pr->identity_fail_open)
			return 0;   /* the profile says so: issued, the verdict is audited */
		deny(d, err, NRFCA_RULE_IDENTITY_UNAVAILABLE,
		     "profile '%s' needs nRF Cloud's Identity Service to verify the attestation "
		     "and it cannot answer now%s%s", pr->name, detail[0] ? ": " : "", detail);
		d->retry_after = retry > 0 ? retry : 5;
		return -1;
	}
}

static const char *scope_words(enum nrfca_supersede_from s)
{
	switch (s) {
	case NRFCA_SUPERSEDE_STATION_GROUP:
		return "the same station or one sharing a group with it";
	case NRFCA_SUPERSEDE_ANY:
		return "any station";
	case NRFCA_SUPERSEDE_SAME_STATION:
	default:
		return "the same station";
	}
}

static int check_existing(const struct nrfca_profile *pr, const struct nrfca_policy_facts *f,
			  struct nrfca_policy_decision *d, struct nrfca_err *err)
{
	const char *what = d->registration ? "public-key registration" : "certificate";
	char a[72], b[72];
	int own;

	d->action = NRFCA_ACTION_ISSUE;
	d->supersede_from = pr->supersede_from;
	if (f->existing != NRFCA_EXISTING_SAME_KEY && f->existing != NRFCA_EXISTING_OTHER_KEY)
		return 0;
	own = f->existing_station != NULL && f->station != NULL &&
	      strcmp(f->existing_station, f->station) == 0;
	/* supersede_scope: a certificate that came through another station is
	 * neither replaced nor handed out unless the profile allows that station */
	if (!own) {
		if (pr->on_existing == NRFCA_ON_EXISTING_REJECT && !f->csr_replay)
			goto rules;   /* refused below whoever holds it */
		if (!nrfca_profile_station_in_scope(pr, f->station, f->groups, f->n_groups,
						    f->existing_station, f->existing_groups,
						    f->n_existing_groups))
			return deny(d, err, NRFCA_RULE_SUPERSEDE_SCOPE,
				    "device '%s' holds %s %s issued through another station; "
				    "profile '%s' lets only %s replace or receive it (supersede_from "
				    "%s): an operator revokes %s to move the device to this station",
				    show(f->cn, a), what, show(f->existing_serial, b), pr->name,
				    scope_words(pr->supersede_from),
				    nrfca_supersede_from_name(pr->supersede_from),
				    f->existing_serial != NULL ? "it" : "the certificate");
		d->existing_other_station = 1;
	}
	if (f->csr_replay) {
		d->action = NRFCA_ACTION_REPLAY;
		return 0;
	}
rules:
	switch (pr->on_existing) {
	case NRFCA_ON_EXISTING_REJECT:
		return deny(d, err, NRFCA_RULE_ON_EXISTING,
			    "device '%s' already holds an active %s and profile '%s' "
			    "rejects a second one (revoke the first)", show(f->cn, a), what, pr->name);
	case NRFCA_ON_EXISTING_REPLAY:
		if (f->existing == NRFCA_EXISTING_OTHER_KEY)
			return deny(d, err, NRFCA_RULE_ON_EXISTING,
				    "device '%s' already holds an active %s for another key "
				    "and profile '%s' only replays the same key", show(f->cn, a), what,
				    pr->name);
		d->action = NRFCA_ACTION_REPLAY;
		return 0;
	case NRFCA_ON_EXISTING_SUPERSEDE:
	default:
		d->action = NRFCA_ACTION_SUPERSEDE;
		return 0;
	}
}

/* The facts of a public-key registration: the CN the rules check is the
 * attested UUID in lower case (none when not attested: cn_missing). */
static const struct nrfca_policy_facts *registration_facts(const struct nrfca_policy_facts *f,
							    struct nrfca_policy_facts *reg,
							    char uuid[37])
{
	size_t i;

	*reg = *f;
	reg->cn = NULL;
	reg->subject = NULL;
	if (f->attested_uuid != NULL && strlen(f->attested_uuid) == 36) {
		for (i = 0; i < 36; i++)
			uuid[i] = (char)tolower((unsigned char)f->attested_uuid[i]);
		uuid[36] = '\0';
		reg->cn = uuid;
	}
	return reg;
}

/* Rate limits, last: tokens are taken only when every other rule allows,
 * from every bucket that applies or from none. */
static int charge(const struct nrfca_policy *p, const struct nrfca_profile *pr,
		  const struct nrfca_policy_facts *f, struct nrfca_policy_decision *d,
		  struct nrfca_err *err)
{
	struct nrfca_rate_req req[3];
	struct nrfca_err e = { 0 };
	size_t n = 0, which = 0, sup = 3;
	unsigned retry;
	int rc;

	if (!f->no_charge) {
		req[n++] = (struct nrfca_rate_req){ NRFCA_RATE_PER_STATION, pr->rl_station, 60 };
		req[n++] = (struct nrfca_rate_req){ NRFCA_RATE_PER_PROFILE, pr->rl_profile, 60 };
	}
	if (d->action == NRFCA_ACTION_SUPERSEDE && !f->no_charge_supersede && pr->rl_supersede) {
		sup = n;
		req[n++] = (struct nrfca_rate_req){ NRFCA_RATE_SUPERSEDE_PER_STATION,
						    pr->rl_supersede, 3600 };
	}
	if (n == 0)
		return 0;
	rc = nrfca_ratelimit_charge_all(p->rl, pr->name, f->station, req, n, nrfca_ratelimit_now_ms(),
					&retry, &which, &e);
	if (rc == 1) {
		d->charged = !f->no_charge && (pr->rl_station || pr->rl_profile);
		d->charged_supersede = sup < 3;
		return 0;
	}
	if (rc < 0) { /* the shared counters did not answer: no verdict */
		d->allow = 0;
		d->rule = NRFCA_RULE_NONE;
		d->rule_name = rule_names[NRFCA_RULE_NONE];
		snprintf(d->detail, sizeof(d->detail), "%s", e.msg);
		if (err != NULL)
			*err = e;
		return -1;
	}
	if (which == sup)
		deny(d, err, NRFCA_RULE_SUPERSEDE_RATE,
		     "station '%s' has replaced %u %ss under profile '%s' in the last "
		     "hour, its limit; retry in %u s or ask an operator", f->station ? f->station : "?",
		     pr->rl_supersede, d->registration ? "public-key registration" : "certificate",
		     pr->name, retry);
	else
		deny(d, err, NRFCA_RULE_RATE_LIMIT,
		     "profile '%s' is at its rate limit (%u per station, %u in all per minute); "
		     "retry in %u s", pr->name, pr->rl_station, pr->rl_profile, retry);
	d->retry_after = retry;
	return -1;
}

int nrfca_policy_decide(const struct nrfca_policy *p, const struct nrfca_policy_facts *f,
			struct nrfca_policy_decision *d, struct nrfca_err *err)
{
	const struct nrfca_profile *pr;
	struct nrfca_policy_facts reg;
	const char *want;
	char imei[16], a[72], uuid[37];
	int days;

	memset(d, 0, sizeof(*d));
	d->rule_name = rule_names[NRFCA_RULE_NONE];
	want = (f->profile != NULL && f->profile[0] != '\0') ? f->profile :
		p->profiles[p->default_idx].name;
	pr = nrfca_policy_profile_find(p, want);
	if (pr == NULL)
		return deny(d, err, NRFCA_RULE_PROFILE_UNKNOWN, "there is no profile '%s'",
			    show(want, a));
	d->profile = pr;
	d->profile_name = pr->name;
	if (!pr->enabled)
		return deny(d, err, NRFCA_RULE_PROFILE_DISABLED,
			    "profile '%s' is disabled by the operator", pr->name);
	if (!nrfca_profile_caller_allowed(pr, f->station, f->groups, f->n_groups))
		return deny(d, err, NRFCA_RULE_STATION,
			    "station '%s' may not use profile '%s'%s", show(f->station, a),
			    pr->name, pr->has_groups ? " (it is in none of the profile's groups)" : "");
	if ((unsigned)f->input >= NRFCA_INPUT_MAX || !(pr->inputs & (1u << f->input)))
		return deny(d, err, NRFCA_RULE_INPUT, "profile '%s' does not accept %s", pr->name,
			    f->input == NRFCA_INPUT_CSR ? "plain CSRs (host-generated keys)" :
			    pr->inputs == (1u << NRFCA_INPUT_PUBLIC_KEY) ?
			    "a CSR: it registers public keys (AT%KEYGEN=<sec_tag>,2,1)" :
			    "%KEYGEN output");
	if (pr->inputs == (1u << NRFCA_INPUT_PUBLIC_KEY)) {
		/* a registration: the device id is the attested UUID (checked by the
		 * attested_uuid CN rule like a certificate's CN) */
		f = registration_facts(f, &reg, uuid);
		d->registration = 1;
	}
	if (check_attestation(pr, f, d, err) != 0 || check_key(pr, f, d, err) != 0 ||
	    check_subject(pr, f, d, err) != 0 || check_cn(pr, f, imei, d, err) != 0 ||
	    check_sec_tag(pr, f, d, err) != 0 || check_lists(pr, f, imei, d, err) != 0 ||
	    check_known(pr, f, d, err) != 0)
		return -1;
	days = f->requested_days == 0 ? pr->validity_default : f->requested_days;
	if (days < 1 || days > pr->validity_max)
		return deny(d, err, NRFCA_RULE_VALIDITY,
			    "requested validity %d days is outside 1..%d of profile '%s'",
			    f->requested_days, pr->validity_max, pr->name);
	if (check_identity(pr, f, d, err) != 0 || check_existing(pr, f, d, err) != 0)
		return -1;
	if (charge(p, pr, f, d, err) != 0)
		return -1;

	d->allow = 1;
	if (!f->has_attestation)
		d->attestation = "none";
	else if (d->identity_verdict == NRFCA_IDENTITY_GENUINE)
		d->attestation = "nrf-cloud-identity:genuine";
	else if (d->identity_verdict == NRFCA_IDENTITY_UNAVAILABLE)
		d->attestation = "nrf-cloud-identity:unavailable";
	else if (pr->n_idkeys > 0)
		d->attestation = "identity_keys";
	else
		d->attestation = "binding";
	snprintf(d->device_id, sizeof(d->device_id), "%s", f->cn);
	if (imei[0] != '\0')
		memcpy(d->imei, imei, 16);
	else if (f->imei != NULL && is_15_digits(f->imei) && nrfca_luhn_ok(f->imei))
		memcpy(d->imei, f->imei, 16);
	d->validity_days = days;
	d->on_existing = pr->on_existing;
	d->trust_bundle = pr->trust;
	d->trust_bundle_len = pr->trust_len;
	d->ext = &pr->ext;
	return 0;
}

size_t nrfca_policy_profile_count(const struct nrfca_policy *p)
{
	return p->n;
}

const struct nrfca_profile *nrfca_policy_profile_at(const struct nrfca_policy *p, size_t i)
{
	return i < p->n ? &p->profiles[i] : NULL;
}

const struct nrfca_profile *nrfca_policy_default_profile(const struct nrfca_policy *p)
{
	return &p->profiles[p->default_idx];
}

const char *nrfca_policy_path(const struct nrfca_policy *p)
{
	return p->path;
}

const char *nrfca_profile_name(const struct nrfca_profile *pr)
{
	return pr->name;
}

const char *nrfca_profile_description(const struct nrfca_profile *pr)
{
	return pr->description;
}

const char *nrfca_profile_input_name(const struct nrfca_profile *pr)
{
	static const char *const names[] = { "keygen", "csr", "any", "public-key" };

	return (unsigned)pr->input_name < 4 ? names[pr->input_name] : "keygen";
}

int nrfca_profile_enabled(const struct nrfca_profile *pr)
{
	return pr->enabled;
}

const char *nrfca_profile_trust_bundle(const struct nrfca_profile *pr, size_t *len)
{
	if (len != NULL)
		*len = pr->trust_len;
	return pr->trust;
}

const struct nrfca_policy_ext *nrfca_profile_extensions(const struct nrfca_profile *pr)
{
	return &pr->ext;
}

int nrfca_profile_subject(const struct nrfca_profile *pr, const char *cn, X509_NAME **out,
			  struct nrfca_err *err)
{
	X509_NAME *n = X509_NAME_new();
	size_t i;

	if (n == NULL)
		return nrfca_err_ssl(err, NRFCA_E_NOMEM, "cannot allocate a subject name");
	for (i = 0; i < pr->n_add; i++)
		if (!X509_NAME_add_entry_by_NID(n, pr->add[i].nid, MBSTRING_UTF8,
						(const unsigned char *)pr->add[i].value, -1, -1, 0))
			goto fail;
	if (!X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0))
		goto fail;
	*out = n;
	return 0;
fail:
	X509_NAME_free(n);
	return nrfca_err_ssl(err, NRFCA_E_INPUT, "cannot build the subject of profile '%s'",
			     pr->name);
}
