/*
 * The decision table: (policy, profile, facts, expected decision, rule) for
 * every rule in both directions, with facts shaped like the real nRF91
 * vectors (tests/data/vectors, EXPECTED.md).  Plus identity-key verification
 * with generated keys, the shipped default.json, and rate limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "pol_helpers.h"
#include "policy.h"
#include "ratelimit.h"

/* keygen-line-sectag52.txt */
#define V52_UUID "50363953-3234-4723-80b9-1503d88271bf"
/* keygen-line-custom-cn.txt */
#define VCN_UUID "50343956-3037-4738-800d-1f29e0a0f7bf"
#define VCN_CN   "nrf-355025930000000"
/* a real IMEI from FORMATS.md (valid Luhn digit) */
#define GOOD_IMEI "352656109480783"

static struct nrfca_policy *shipped;  /* policies/default.json */
static struct nrfca_policy *testpol;  /* written below */

static const char test_json[] =
	"{\"version\": 1, \"default_profile\": \"strict\", \"profiles\": {\n"
	" \"strict\": {\"input\": \"keygen\", \"stations\": [\"line-1\", \"line-2\"],\n"
	"   \"key\": {\"types\": [\"ec\", \"rsa\"], \"curves\": [\"P-256\"], \"rsa_min_bits\": 3072},\n"
	"   \"cn\": {\"source\": \"attested_uuid\"},\n"
	"   \"subject\": {\"unlisted\": \"refuse\", \"ignore\": [\"L\"], \"refuse\": [\"OU\"],\n"
	"                 \"add\": {\"C\": \"NO\", \"O\": \"Acme\"}},\n"
	"   \"attestation\": {\"required\": true, \"binding\": true, \"payload\": \"csr\"},\n"
	"   \"sec_tags\": [16842753, \"50-59\"],\n"
	"   \"devices\": {\"allow_list\": \"lists/allow.txt\", \"deny_list\": \"lists/deny.txt\"},\n"
	"   \"on_existing\": \"replay\",\n"
	"   \"validity\": {\"default_days\": 365, \"max_days\": 730},\n"
	"   \"trust_bundle\": [\"@TRUST@\"]},\n"
	" \"pattern\": {\"input\": \"any\", \"cn\": {\"source\": \"pattern\", \"pattern\": \"^dev-[0-9]{4}$\"},\n"
	"   \"attestation\": {\"required\": false, \"payload\": \"any\"},\n"
	"   \"on_existing\": \"reject\", \"validity\": {\"default_days\": 30, \"max_days\": 30},\n"
	"   \"trust_bundle\": [\"@TRUST@\"]},\n"
	" \"imei-bare\": {\"input\": \"keygen\", \"cn\": {\"source\": \"imei\", \"imei_forms\": [\"imei\"]},\n"
	"   \"attestation\": {\"required\": true}, \"on_existing\": \"supersede\",\n"
	"   \"validity\": {\"default_days\": 30, \"max_days\": 30}, \"trust_bundle\": [\"@TRUST@\"]},\n"
	" \"host\": {\"input\": \"csr\", \"cn\": {\"source\": \"any\", \"max_length\": 20},\n"
	"   \"on_existing\": \"reject\", \"validity\": {\"default_days\": 30, \"max_days\": 30},\n"
	"   \"trust_bundle\": [\"@TRUST@\"]},\n"
	/* station authority: groups, supersede_from, expected devices, identity service */
	" \"grouped\": {\"input\": \"keygen\", \"stations\": [\"line-1\"], \"groups\": [\"hall-a\"],\n"
	"   \"cn\": {\"source\": \"attested_uuid\"}, \"attestation\": {\"required\": true},\n"
	"   \"on_existing\": \"supersede\", \"supersede_from\": \"station_group\",\n"
	"   \"validity\": {\"default_days\": 30, \"max_days\": 30}, \"trust_bundle\": [\"@TRUST@\"]},\n"
	" \"anywhere\": {\"input\": \"keygen\", \"cn\": {\"source\": \"attested_uuid\"},\n"
	"   \"attestation\": {\"required\": true}, \"on_existing\": \"supersede\", \"supersede_from\": \"any\",\n"
	"   \"validity\": {\"default_days\": 30, \"max_days\": 30}, \"trust_bundle\": [\"@TRUST@\"]},\n"
	" \"known\": {\"input\": \"keygen\", \"cn\": {\"source\": \"attested_uuid\"},\n"
	"   \"attestation\": {\"required\": true}, \"on_existing\": \"supersede\", \"require_known_device\": true,\n"
	"   \"validity\": {\"default_days\": 30, \"max_days\": 30}, \"trust_bundle\": [\"@TRUST@\"]},\n"
	" \"verified\": {\"input\": \"keygen\", \"cn\": {\"source\": \"attested_uuid\"},\n"
	"   \"attestation\": {\"required\": true, \"verify_with\": \"nrf-cloud-identity\"},\n"
	"   \"on_existing\": \"supersede\",\n"
	"   \"validity\": {\"default_days\": 30, \"max_days\": 30}, \"trust_bundle\": [\"@TRUST@\"]},\n"
	" \"verified-open\": {\"input\": \"keygen\", \"cn\": {\"source\": \"attested_uuid\"},\n"
	"   \"attestation\": {\"required\": true, \"verify_with\": \"nrf-cloud-identity\",\n"
	"                   \"on_unavailable\": \"issue\"},\n"
	"   \"on_existing\": \"supersede\",\n"
	"   \"validity\": {\"default_days\": 30, \"max_days\": 30}, \"trust_bundle\": [\"@TRUST@\"]}\n"
	"}}\n";

static const char allow_txt[] =
	"# devices allowed under 'strict'\n"
	V52_UUID "\n"
	"  " VCN_UUID "   # custom-CN modem\n"
	"\n"
	"50363154-3931-44F0-8022-121B6401627D\n"  /* upper case: normalised */
	"11111111-2222-4333-8444-555555555555\n";
static const char deny_txt[] = "# stolen\n11111111-2222-4333-8444-555555555555\n";

static char *subst(const char *tmpl, const char *from, const char *to)
{
	size_t cap = strlen(tmpl) * 4 + 4096, n = 0;
	char *out = malloc(cap);
	const char *p = tmpl, *q;

	while ((q = strstr(p, from)) != NULL) {
		memcpy(out + n, p, (size_t)(q - p));
		n += (size_t)(q - p);
		n += (size_t)sprintf(out + n, "%s", to);
		p = q + strlen(from);
	}
	strcpy(out + n, p);
	return out;
}

static int setup(void **state)
{
	struct nrfca_err err = { 0 };
	char *text;

	(void)state;
	scratch_new();
	scratch_write("lists/allow.txt", allow_txt);
	scratch_write("lists/deny.txt", deny_txt);
	text = subst(test_json, "@TRUST@", policy_dir_file("trust/aws-root-ca1.pem"));
	if (nrfca_policy_load_file(scratch_write("test.json", text), &testpol, &err) != 0) {
		fprintf(stderr, "test policy: %s\n", err.msg);
		free(text);
		return -1;
	}
	free(text);
	if (nrfca_policy_load_file(policy_dir_file("default.json"), &shipped, &err) != 0) {
		fprintf(stderr, "default.json: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nrfca_policy_unref(testpol);
	nrfca_policy_unref(shipped);
	scratch_free();
	return 0;
}

/* ---- facts ---- */

enum base { B_V52, B_VCN, B_IMEI, B_PLAIN };

static void base_facts(enum base b, struct nrfca_policy_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->station = "line-1";
	f->input = NRFCA_INPUT_KEYGEN;
	f->key_type = EVP_PKEY_EC;
	f->curve_nid = NID_X9_62_prime256v1;
	f->key_bits = 256;
	f->has_attestation = 1;
	f->binding_ok = 1;
	f->payload_id = 9;
	f->has_sec_tag = 1;
	f->sec_tag = 52;
	f->existing = NRFCA_EXISTING_NONE;
	switch (b) {
	case B_V52:
		f->cn = V52_UUID;
		f->attested_uuid = V52_UUID;
		break;
	case B_VCN:
		f->cn = VCN_CN;
		f->attested_uuid = VCN_UUID;
		break;
	case B_IMEI:
		f->cn = "nrf-" GOOD_IMEI;
		f->attested_uuid = VCN_UUID;
		break;
	case B_PLAIN:
		f->input = NRFCA_INPUT_CSR;
		f->has_attestation = 0;
		f->binding_ok = 0;
		f->payload_id = 0;
		f->has_sec_tag = 0;
		f->sec_tag = 0;
		f->cn = "dev-0042";
		break;
	}
}

static X509_NAME *subj;  /* for the subject rows, rebuilt per row */

static void set_subject(struct nrfca_policy_facts *f, const char *const *kv)
{
	X509_NAME_free(subj);
	subj = X509_NAME_new();
	for (; kv[0] != NULL; kv += 2)
		X509_NAME_add_entry_by_txt(subj, kv[0], MBSTRING_UTF8, (const unsigned char *)kv[1],
					   -1, -1, 0);
	f->subject = subj;
}

static void m_none(struct nrfca_policy_facts *f) { (void)f; }
static void m_profile_nope(struct nrfca_policy_facts *f) { f->profile = "nope"; }
static void m_station9(struct nrfca_policy_facts *f) { f->station = "line-9"; }
static void m_station_null(struct nrfca_policy_facts *f) { f->station = NULL; }
static void m_station2(struct nrfca_policy_facts *f) { f->station = "line-2"; }
static void m_input_csr(struct nrfca_policy_facts *f) { f->input = NRFCA_INPUT_CSR; }
static void m_no_att(struct nrfca_policy_facts *f) { f->has_attestation = 0; f->binding_ok = 0; }
static void m_no_binding(struct nrfca_policy_facts *f) { f->binding_ok = 0; }
static void m_payload8(struct nrfca_policy_facts *f) { f->payload_id = 8; }
static void m_ed25519(struct nrfca_policy_facts *f) { f->key_type = EVP_PKEY_ED25519; f->curve_nid = NID_undef; }
static void m_p384(struct nrfca_policy_facts *f) { f->curve_nid = NID_secp384r1; f->key_bits = 384; }
static void m_rsa2048(struct nrfca_policy_facts *f) { f->key_type = EVP_PKEY_RSA; f->curve_nid = NID_undef; f->key_bits = 2048; }
static void m_rsa3072(struct nrfca_policy_facts *f) { f->key_type = EVP_PKEY_RSA; f->curve_nid = NID_undef; f->key_bits = 3072; }
static void m_subj_ou(struct nrfca_policy_facts *f)
{
	static const char *const kv[] = { "OU", "Line", "CN", V52_UUID, NULL };
	set_subject(f, kv);
}
static void m_subj_st(struct nrfca_policy_facts *f)
{
	static const char *const kv[] = { "ST", "Trondelag", "CN", V52_UUID, NULL };
	set_subject(f, kv);
}
static void m_subj_l(struct nrfca_policy_facts *f)
{
	static const char *const kv[] = { "L", "Trondheim", "CN", V52_UUID, NULL };
	set_subject(f, kv);
}
static void m_subj_2cn(struct nrfca_policy_facts *f)
{
	static const char *const kv[] = { "CN", V52_UUID, "CN", "other", NULL };
	set_subject(f, kv);
}
static void m_subj_keygen_attrs(struct nrfca_policy_facts *f)
{
	/* %KEYGEN "O=Acme,L=Trondheim,C=no,CN=dev1" style: the shipped profiles ignore them */
	static const char *const kv[] = { "O", "Acme", "L", "Trondheim", "C", "no", "CN", V52_UUID, NULL };
	set_subject(f, kv);
}
static void m_cn_null(struct nrfca_policy_facts *f) { f->cn = NULL; }
static void m_cn_65(struct nrfca_policy_facts *f)
{
	f->cn = "0123456789012345678901234567890123456789012345678901234567890123X";
}
static void m_cn_upper(struct nrfca_policy_facts *f) { f->cn = "50363953-3234-4723-80B9-1503D88271BF"; }
static void m_uuid_upper(struct nrfca_policy_facts *f) { f->attested_uuid = "50363953-3234-4723-80B9-1503D88271BF"; }
static void m_cn_space(struct nrfca_policy_facts *f) { f->cn = "dev 0042"; }
static void m_cn_bare_imei(struct nrfca_policy_facts *f) { f->cn = GOOD_IMEI; }
static void m_cn_nrf_14(struct nrfca_policy_facts *f) { f->cn = "nrf-35265610948078"; }
static void m_cn_bare_bad_luhn(struct nrfca_policy_facts *f) { f->cn = "355025930000000"; }
static void m_cn_bare_luhn_ok(struct nrfca_policy_facts *f) { f->cn = "355025930000003"; }
static void m_imei_same(struct nrfca_policy_facts *f) { f->imei = GOOD_IMEI; }
static void m_imei_other(struct nrfca_policy_facts *f) { f->imei = "355025930000003"; }
static void m_cn_dev_bad(struct nrfca_policy_facts *f) { f->cn = "dev-42"; }
static void m_cn_dev_ok_suffix(struct nrfca_policy_facts *f) { f->cn = "xdev-0042"; }
static void m_cn_host_long(struct nrfca_policy_facts *f) { f->cn = "abcdefghijklmnopqrstu"; }
static void m_sectag_nrfcloud(struct nrfca_policy_facts *f) { f->sec_tag = 16842753; }
static void m_sectag_17(struct nrfca_policy_facts *f) { f->sec_tag = 17; }
static void m_sectag_none(struct nrfca_policy_facts *f) { f->has_sec_tag = 0; }
static void m_denied_dev(struct nrfca_policy_facts *f)
{
	f->cn = "11111111-2222-4333-8444-555555555555";
	f->attested_uuid = "11111111-2222-4333-8444-555555555555";
}
static void m_unlisted_dev(struct nrfca_policy_facts *f)
{
	f->cn = "22222222-2222-4333-8444-555555555555";
	f->attested_uuid = "22222222-2222-4333-8444-555555555555";
}
static void m_listed_upper(struct nrfca_policy_facts *f)
{
	f->cn = "50363154-3931-44f0-8022-121b6401627d";
	f->attested_uuid = "50363154-3931-44f0-8022-121b6401627d";
}
static void m_days_730(struct nrfca_policy_facts *f) { f->requested_days = 730; }
static void m_days_731(struct nrfca_policy_facts *f) { f->requested_days = 731; }
static void m_days_neg(struct nrfca_policy_facts *f) { f->requested_days = -1; }
/* an active certificate issued through the calling station (line-1) */
static void m_exist_same(struct nrfca_policy_facts *f)
{
	f->existing = NRFCA_EXISTING_SAME_KEY;
	f->existing_station = "line-1";
	f->existing_serial = "5ab1";
}
static void m_exist_other(struct nrfca_policy_facts *f)
{
	f->existing = NRFCA_EXISTING_OTHER_KEY;
	f->existing_station = "line-1";
	f->existing_serial = "5ab1";
}
static void m_exist_unknown(struct nrfca_policy_facts *f) { f->existing = NRFCA_EXISTING_UNKNOWN; }

/* station authority: the certificate came through station B (line-2) */
static const char *const g_hall_a[] = { "hall-a" };
static const char *const g_hall_b[] = { "hall-b" };
static const char *const g_both[] = { "hall-b", "hall-a" };
static void m_exist_other_b(struct nrfca_policy_facts *f)
{
	m_exist_other(f);
	f->existing_station = "line-2";
}
static void m_exist_same_key_b(struct nrfca_policy_facts *f)
{
	m_exist_same(f);
	f->existing_station = "line-2";
}
static void m_exist_holder_unknown(struct nrfca_policy_facts *f)
{
	m_exist_other(f);
	f->existing_station = NULL;
}
static void m_csr_replay_b(struct nrfca_policy_facts *f)
{
	m_exist_same_key_b(f);
	f->csr_replay = 1;
}
static void m_csr_replay_own(struct nrfca_policy_facts *f)
{
	m_exist_same(f);
	f->csr_replay = 1;
}
/* caller line-3 in hall-a; holder line-2 in hall-a (shared) or hall-b */
static void m_group_caller(struct nrfca_policy_facts *f)
{
	f->station = "line-3";
	f->groups = g_hall_a;
	f->n_groups = 1;
}
static void m_group_caller_other(struct nrfca_policy_facts *f)
{
	f->station = "line-3";
	f->groups = g_hall_b;
	f->n_groups = 1;
}
static void m_group_shared(struct nrfca_policy_facts *f)
{
	m_group_caller(f);
	m_exist_other_b(f);
	f->existing_groups = g_both;
	f->n_existing_groups = 2;
}
static void m_group_not_shared(struct nrfca_policy_facts *f)
{
	m_group_caller(f);
	m_exist_other_b(f);
	f->existing_groups = g_hall_b;
	f->n_existing_groups = 1;
}
static void m_group_holder_none(struct nrfca_policy_facts *f)
{
	m_group_caller(f);
	m_exist_other_b(f);
}
static void m_known_yes(struct nrfca_policy_facts *f) { f->known_device = NRFCA_KNOWN_YES; }
static void m_known_no(struct nrfca_policy_facts *f) { f->known_device = NRFCA_KNOWN_NO; }

/* the identity service stand-in of the table: ctx is the verdict */
static enum nrfca_identity_verdict fake_identity(void *ctx, char *detail, size_t len,
						 unsigned *retry_after)
{
	enum nrfca_identity_verdict v = (enum nrfca_identity_verdict)(intptr_t)ctx;

	snprintf(detail, len, "stand-in says %s", nrfca_identity_verdict_name(v));
	*retry_after = 7;
	return v;
}
static void m_id_genuine(struct nrfca_policy_facts *f)
{
	f->identity = fake_identity;
	f->identity_ctx = (void *)(intptr_t)NRFCA_IDENTITY_GENUINE;
}
static void m_id_forged(struct nrfca_policy_facts *f)
{
	f->identity = fake_identity;
	f->identity_ctx = (void *)(intptr_t)NRFCA_IDENTITY_FORGED;
}
static void m_id_unknown(struct nrfca_policy_facts *f)
{
	f->identity = fake_identity;
	f->identity_ctx = (void *)(intptr_t)NRFCA_IDENTITY_UNKNOWN_DEVICE;
}
static void m_id_down(struct nrfca_policy_facts *f)
{
	f->identity = fake_identity;
	f->identity_ctx = (void *)(intptr_t)NRFCA_IDENTITY_UNAVAILABLE;
}
static void m_id_forged_held_b(struct nrfca_policy_facts *f)
{
	m_id_forged(f);
	m_exist_other_b(f);
}
static void m_id_forged_cn_bad(struct nrfca_policy_facts *f)
{
	m_id_forged(f);
	f->cn = VCN_CN;
}

#define P_SHIPPED 0
#define P_TEST 1

struct row {
	const char *name;
	int pol;
	const char *profile;  /* NULL = the default */
	enum base base;
	void (*mut)(struct nrfca_policy_facts *);
	int allow;
	const char *rule;
	const char *detail_has;  /* substring of the sentence, or NULL */
};

static const struct row rows[] = {
	/* profiles */
	{ "default is nrf-cloud-mqtt, sectag52 vector", P_SHIPPED, NULL, B_V52, m_none, 1, "", NULL },
	{ "coap allows the vector", P_SHIPPED, "nrf-cloud-coap", B_V52, m_none, 1, "", NULL },
	{ "unknown profile", P_SHIPPED, NULL, B_V52, m_profile_nope, 0, "profile_unknown", "'nope'" },
	{ "host-key shipped disabled", P_SHIPPED, "host-key", B_PLAIN, m_none, 0, "profile_disabled", "host-key" },
	/* station */
	{ "station listed", P_TEST, "strict", B_V52, m_station2, 1, "", NULL },
	{ "station not listed", P_TEST, "strict", B_V52, m_station9, 0, "station", "'line-9'" },
	{ "no station identity", P_TEST, "strict", B_V52, m_station_null, 0, "station", NULL },
	{ "no station list = all", P_SHIPPED, NULL, B_V52, m_station9, 1, "", NULL },
	/* input */
	{ "keygen profile refuses plain CSR", P_SHIPPED, NULL, B_PLAIN, m_none, 0, "input", "plain CSRs" },
	{ "csr profile takes plain CSR", P_TEST, "host", B_PLAIN, m_none, 1, "", NULL },
	{ "csr profile refuses keygen", P_TEST, "host", B_V52, m_none, 0, "input", "%KEYGEN" },
	{ "any-input profile takes plain CSR", P_TEST, "pattern", B_PLAIN, m_none, 1, "", NULL },
	/* attestation */
	{ "attestation missing", P_SHIPPED, NULL, B_V52, m_no_att, 0, "attestation_required", NULL },
	{ "attestation optional", P_TEST, "pattern", B_PLAIN, m_input_csr, 1, "", NULL },
	{ "binding broken", P_SHIPPED, NULL, B_V52, m_no_binding, 0, "attestation_binding", "SHA-256" },
	{ "payload id 8 (public key)", P_SHIPPED, NULL, B_V52, m_payload8, 0, "payload_id", "payload id is 8" },
	{ "payload any", P_TEST, "pattern", B_PLAIN, m_payload8, 1, "", NULL },
	/* key */
	{ "Ed25519 refused", P_SHIPPED, NULL, B_V52, m_ed25519, 0, "key_type", "Ed25519" },
	{ "RSA refused by shipped", P_SHIPPED, NULL, B_V52, m_rsa3072, 0, "key_type", "RSA" },
	{ "P-384 refused", P_SHIPPED, NULL, B_V52, m_p384, 0, "key_curve", "P-384" },
	{ "RSA 3072 allowed", P_TEST, "strict", B_V52, m_rsa3072, 1, "", NULL },
	{ "RSA 2048 too small", P_TEST, "strict", B_V52, m_rsa2048, 0, "key_size", "2048" },
	/* subject attributes */
	{ "OU refused", P_TEST, "strict", B_V52, m_subj_ou, 0, "subject_attribute", "OU" },
	{ "unlisted ST refused", P_TEST, "strict", B_V52, m_subj_st, 0, "subject_attribute", "ST" },
	{ "L ignored", P_TEST, "strict", B_V52, m_subj_l, 1, "", NULL },
	{ "two CNs", P_TEST, "strict", B_V52, m_subj_2cn, 0, "subject_attribute", "more than one CN" },
	{ "shipped ignores O/L/C", P_SHIPPED, NULL, B_V52, m_subj_keygen_attrs, 1, "", NULL },
	/* CN */
	{ "no CN", P_SHIPPED, NULL, B_V52, m_cn_null, 0, "cn_missing", NULL },
	{ "CN 65 chars", P_SHIPPED, NULL, B_V52, m_cn_65, 0, "cn_length", "65 characters" },
	{ "CN over profile max_length 20", P_TEST, "host", B_PLAIN, m_cn_host_long, 0, "cn_length", "at most 20" },
	{ "custom-CN vector vs attested UUID", P_SHIPPED, NULL, B_VCN, m_none, 0, "cn_uuid",
	  "CN 'nrf-355025930000000' is not the attested device UUID '50343956-3037-4738-800d-1f29e0a0f7bf'" },
	{ "upper-case CN", P_SHIPPED, NULL, B_V52, m_cn_upper, 0, "cn_uuid", NULL },
	{ "upper-case attested UUID normalised", P_SHIPPED, NULL, B_V52, m_uuid_upper, 1, "", NULL },
	{ "CN with a space", P_TEST, "pattern", B_PLAIN, m_cn_space, 0, "cn_pattern", NULL },
	/* IMEI */
	{ "custom-CN vector fails Luhn", P_SHIPPED, "imei", B_VCN, m_none, 0, "luhn",
	  "IMEI 355025930000000 in CN 'nrf-355025930000000' fails the Luhn check" },
	{ "nrf-<IMEI> valid", P_SHIPPED, "imei", B_IMEI, m_none, 1, "", NULL },
	{ "bare IMEI refused by nrf-imei form", P_SHIPPED, "imei", B_IMEI, m_cn_bare_imei, 0, "cn_imei_form", NULL },
	{ "14 digits", P_SHIPPED, "imei", B_IMEI, m_cn_nrf_14, 0, "cn_imei_form", NULL },
	{ "UUID CN under imei", P_SHIPPED, "imei", B_V52, m_none, 0, "cn_imei_form", NULL },
	{ "bare IMEI form allowed", P_TEST, "imei-bare", B_IMEI, m_cn_bare_imei, 1, "", NULL },
	{ "bare IMEI bad Luhn", P_TEST, "imei-bare", B_IMEI, m_cn_bare_bad_luhn, 0, "luhn", NULL },
	{ "bare IMEI good Luhn", P_TEST, "imei-bare", B_IMEI, m_cn_bare_luhn_ok, 1, "", NULL },
	{ "station IMEI matches", P_SHIPPED, "imei", B_IMEI, m_imei_same, 1, "", NULL },
	{ "station IMEI differs", P_SHIPPED, "imei", B_IMEI, m_imei_other, 0, "imei_mismatch",
	  "station read IMEI '355025930000003'" },
	/* pattern */
	{ "pattern matches", P_TEST, "pattern", B_PLAIN, m_none, 1, "", NULL },
	{ "pattern fails", P_TEST, "pattern", B_PLAIN, m_cn_dev_bad, 0, "cn_pattern", "'dev-42'" },
	{ "pattern is anchored", P_TEST, "pattern", B_PLAIN, m_cn_dev_ok_suffix, 0, "cn_pattern", NULL },
	/* sec_tag */
	{ "sec_tag in range 50-59", P_TEST, "strict", B_V52, m_none, 1, "", NULL },
	{ "sec_tag nRF Cloud", P_TEST, "strict", B_V52, m_sectag_nrfcloud, 1, "", NULL },
	{ "sec_tag 17 refused", P_TEST, "strict", B_V52, m_sectag_17, 0, "sec_tag", "sec_tag 17" },
	{ "no sec_tag", P_TEST, "strict", B_V52, m_sectag_none, 0, "sec_tag", NULL },
	/* device lists */
	{ "deny-listed device", P_TEST, "strict", B_V52, m_denied_dev, 0, "deny_list",
	  "11111111-2222-4333-8444-555555555555" },
	{ "not on allow-list", P_TEST, "strict", B_V52, m_unlisted_dev, 0, "allow_list", NULL },
	{ "allow-list entry given in upper case", P_TEST, "strict", B_V52, m_listed_upper, 1, "", NULL },
	/* validity */
	{ "validity at max", P_TEST, "strict", B_V52, m_days_730, 1, "", NULL },
	{ "validity over max", P_TEST, "strict", B_V52, m_days_731, 0, "validity", "731" },
	{ "validity negative", P_TEST, "strict", B_V52, m_days_neg, 0, "validity", NULL },
	/* on_existing */
	{ "replay: same key", P_TEST, "strict", B_V52, m_exist_same, 1, "", NULL },
	{ "replay: other key", P_TEST, "strict", B_V52, m_exist_other, 0, "on_existing", "another key" },
	{ "reject: existing", P_TEST, "pattern", B_PLAIN, m_exist_same, 0, "on_existing", "already holds" },
	{ "reject: not looked up", P_TEST, "pattern", B_PLAIN, m_exist_unknown, 1, "", NULL },
	{ "supersede: other key", P_SHIPPED, NULL, B_V52, m_exist_other, 1, "", NULL },
	/* supersede_scope: the forged-attestation takeover from a second station */
	{ "supersede: held by another station", P_SHIPPED, NULL, B_V52, m_exist_other_b, 0,
	  "supersede_scope", "supersede_from same_station" },
	{ "supersede: the refusal names the certificate", P_SHIPPED, NULL, B_V52, m_exist_other_b, 0,
	  "supersede_scope", "certificate 5ab1 issued through another station" },
	{ "supersede: holder unknown is another station", P_SHIPPED, NULL, B_V52,
	  m_exist_holder_unknown, 0, "supersede_scope", NULL },
	{ "replay of the same key from another station", P_TEST, "strict", B_V52, m_exist_same_key_b,
	  0, "supersede_scope", NULL },
	{ "replay of the same CSR from another station", P_SHIPPED, NULL, B_V52, m_csr_replay_b, 0,
	  "supersede_scope", NULL },
	{ "replay of the same CSR from its station", P_SHIPPED, NULL, B_V52, m_csr_replay_own, 1, "", NULL },
	{ "replay of the same CSR under reject", P_TEST, "pattern", B_PLAIN, m_csr_replay_own, 1, "", NULL },
	{ "reject: held by another station is on_existing", P_TEST, "pattern", B_PLAIN, m_exist_other_b,
	  0, "on_existing", NULL },
	{ "station_group: shared group", P_TEST, "grouped", B_V52, m_group_shared, 1, "", NULL },
	{ "station_group: no shared group", P_TEST, "grouped", B_V52, m_group_not_shared, 0,
	  "supersede_scope", "supersede_from station_group" },
	{ "station_group: holder in no group", P_TEST, "grouped", B_V52, m_group_holder_none, 0,
	  "supersede_scope", NULL },
	{ "any: held by another station", P_TEST, "anywhere", B_V52, m_exist_other_b, 1, "", NULL },
	/* groups give access to a profile */
	{ "groups: member of a listed group", P_TEST, "grouped", B_V52, m_group_caller, 1, "", NULL },
	{ "groups: member of another group", P_TEST, "grouped", B_V52, m_group_caller_other, 0,
	  "station", "none of the profile's groups" },
	{ "groups: listed station without groups", P_TEST, "grouped", B_V52, m_none, 1, "", NULL },
	/* expected devices */
	{ "known: on the list", P_TEST, "known", B_V52, m_known_yes, 1, "", NULL },
	{ "known: not on the list", P_TEST, "known", B_V52, m_known_no, 0, "known_device",
	  "was not imported for station 'line-1'" },
	{ "known: list not consulted", P_TEST, "known", B_V52, m_none, 0, "known_device", "not consulted" },
	{ "known: other profiles do not care", P_SHIPPED, NULL, B_V52, m_known_no, 1, "", NULL },
	/* nRF Cloud's Identity Service */
	{ "identity: genuine", P_TEST, "verified", B_V52, m_id_genuine, 1, "", NULL },
	{ "identity: forged", P_TEST, "verified", B_V52, m_id_forged, 0, "attestation_identity",
	  "does not accept the attestation of device '" V52_UUID "'" },
	{ "identity: unknown device (nRF9160)", P_TEST, "verified", B_V52, m_id_unknown, 0,
	  "attestation_identity", "nRF9160" },
	{ "identity: unavailable, fail closed", P_TEST, "verified", B_V52, m_id_down, 0,
	  "identity_unavailable", "cannot answer now: stand-in says unavailable" },
	{ "identity: no service configured", P_TEST, "verified", B_V52, m_none, 0,
	  "identity_unavailable", "no identity service is configured" },
	{ "identity: unavailable, on_unavailable issue", P_TEST, "verified-open", B_V52, m_id_down, 1,
	  "", NULL },
	{ "identity: forged refused under on_unavailable issue", P_TEST, "verified-open", B_V52,
	  m_id_forged, 0, "attestation_identity", NULL },
	{ "identity: a cheaper rule refuses first", P_TEST, "verified", B_V52, m_id_forged_cn_bad, 0,
	  "cn_uuid", NULL },
	{ "identity: forged beats supersede_scope", P_TEST, "verified", B_V52, m_id_forged_held_b, 0,
	  "attestation_identity", NULL },
	{ "identity: not asked by other profiles", P_SHIPPED, NULL, B_V52, m_id_forged, 1, "", NULL },
};

static void test_table(void **state)
{
	struct nrfca_policy_decision d;
	struct nrfca_policy_facts f;
	struct nrfca_err err = { 0 };
	size_t i, fails = 0;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];

		base_facts(r->base, &f);
		f.profile = r->profile;
		r->mut(&f);
		nrfca_err_clear(&err);
		rc = nrfca_policy_decide(r->pol == P_SHIPPED ? shipped : testpol, &f, &d, &err);
		if (d.allow != r->allow || strcmp(d.rule_name, r->rule) != 0 ||
		    (rc == 0) != r->allow ||
		    (r->detail_has != NULL && strstr(d.detail, r->detail_has) == NULL) ||
		    (!r->allow && (err.code != NRFCA_E_POLICY || strcmp(err.msg, d.detail) != 0)) ||
		    (!r->allow && d.detail[0] == '\0')) {
			fprintf(stderr, "row %zu '%s': got allow=%d rule='%s' detail='%s', want allow=%d rule='%s'\n",
				i, r->name, d.allow, d.rule_name, d.detail, r->allow, r->rule);
			fails++;
		}
	}
	X509_NAME_free(subj);
	subj = NULL;
	assert_int_equal(fails, 0);
}

/* Every rule name appears in the table in a refused row. */
static void test_table_covers_rules(void **state)
{
	enum nrfca_policy_rule r;
	size_t i;

	(void)state;
	for (r = NRFCA_RULE_NONE + 1; r < NRFCA_RULE_MAX; r++) {
		if (r == NRFCA_RULE_RATE_LIMIT || r == NRFCA_RULE_ATTESTATION_SIGNATURE ||
		    r == NRFCA_RULE_SUPERSEDE_RATE)
			continue;  /* tested below */
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			if (!rows[i].allow && strcmp(rows[i].rule, nrfca_policy_rule_name(r)) == 0)
				break;
		if (i == sizeof(rows) / sizeof(rows[0]))
			fail_msg("rule %s has no refused row", nrfca_policy_rule_name(r));
	}
}

static void test_allow_fields(void **state)
{
	const struct nrfca_profile *pr;
	struct nrfca_policy_decision d;
	struct nrfca_policy_facts f;
	X509_NAME *n = NULL;
	char buf[256];

	(void)state;
	base_facts(B_V52, &f);
	f.profile = "strict";
	assert_int_equal(nrfca_policy_decide(testpol, &f, &d, NULL), 0);
	assert_string_equal(d.profile_name, "strict");
	assert_string_equal(d.device_id, V52_UUID);
	assert_int_equal(d.validity_days, 365);
	assert_int_equal(d.on_existing, NRFCA_ON_EXISTING_REPLAY);
	assert_int_equal(d.action, NRFCA_ACTION_ISSUE);
	assert_non_null(d.ext);
	assert_true(d.ext->basic_constraints && d.ext->basic_constraints_critical);
	assert_int_equal(d.ext->key_usage, X509v3_KU_DIGITAL_SIGNATURE);
	assert_int_equal(d.ext->n_eku, 1);
	assert_string_equal(d.ext->eku[0], "clientAuth");
	assert_true(d.ext->subject_key_id && d.ext->authority_key_id);
	assert_non_null(d.trust_bundle);
	assert_non_null(strstr(d.trust_bundle, "-----BEGIN CERTIFICATE-----"));

	pr = d.profile;
	assert_int_equal(nrfca_profile_subject(pr, d.device_id, &n, NULL), 0);
	X509_NAME_oneline(n, buf, sizeof(buf));
	assert_string_equal(buf, "/C=NO/O=Acme/CN=" V52_UUID);
	X509_NAME_free(n);

	/* imei is reported */
	base_facts(B_IMEI, &f);
	f.profile = "imei";
	assert_int_equal(nrfca_policy_decide(shipped, &f, &d, NULL), 0);
	assert_string_equal(d.imei, GOOD_IMEI);
	assert_string_equal(d.device_id, "nrf-" GOOD_IMEI);
	assert_int_equal(d.validity_days, 3650);
	assert_int_equal(d.action, NRFCA_ACTION_ISSUE);

	/* replay and supersede actions */
	base_facts(B_V52, &f);
	f.profile = "strict";
	f.existing = NRFCA_EXISTING_SAME_KEY;
	f.existing_station = "line-1";
	assert_int_equal(nrfca_policy_decide(testpol, &f, &d, NULL), 0);
	assert_int_equal(d.action, NRFCA_ACTION_REPLAY);
	base_facts(B_V52, &f);
	f.existing = NRFCA_EXISTING_OTHER_KEY;
	f.existing_station = "line-1";
	assert_int_equal(nrfca_policy_decide(shipped, &f, &d, NULL), 0);
	assert_int_equal(d.action, NRFCA_ACTION_SUPERSEDE);
	assert_int_equal(d.existing_other_station, 0);
	assert_int_equal(d.supersede_from, NRFCA_SUPERSEDE_SAME_STATION);
	/* the station of the holder decides, not only the key (the takeover) */
	f.existing_station = "line-2";
	assert_int_equal(nrfca_policy_decide(shipped, &f, &d, NULL), -1);
	assert_int_equal(d.rule, NRFCA_RULE_SUPERSEDE_SCOPE);
	assert_int_equal(d.action, NRFCA_ACTION_ISSUE);
	/* allowed from another station: the decision says so (metric, audit) */
	f.profile = "anywhere";
	assert_int_equal(nrfca_policy_decide(testpol, &f, &d, NULL), 0);
	assert_int_equal(d.action, NRFCA_ACTION_SUPERSEDE);
	assert_int_equal(d.existing_other_station, 1);
	assert_int_equal(d.supersede_from, NRFCA_SUPERSEDE_ANY);
	/* the identity verdict travels with the decision */
	base_facts(B_V52, &f);
	f.profile = "verified-open";
	m_id_down(&f);
	assert_int_equal(nrfca_policy_decide(testpol, &f, &d, NULL), 0);
	assert_int_equal(d.identity_verdict, NRFCA_IDENTITY_UNAVAILABLE);
	f.profile = "verified";
	m_id_genuine(&f);
	assert_int_equal(nrfca_policy_decide(testpol, &f, &d, NULL), 0);
	assert_int_equal(d.identity_verdict, NRFCA_IDENTITY_GENUINE);
	m_id_down(&f);
	assert_int_equal(nrfca_policy_decide(testpol, &f, &d, NULL), -1);
	assert_int_equal(d.retry_after, 7);
	assert_int_equal(d.identity_verdict, NRFCA_IDENTITY_UNAVAILABLE);
	f.profile = NULL;
	assert_int_equal(nrfca_policy_decide(shipped, &f, &d, NULL), 0);
	assert_int_equal(d.identity_verdict, NRFCA_IDENTITY_NOT_ASKED);
}

static void test_luhn(void **state)
{
	(void)state;
	assert_true(nrfca_luhn_ok(GOOD_IMEI));
	assert_true(nrfca_luhn_ok("355025930000003"));
	assert_false(nrfca_luhn_ok("355025930000000"));
	assert_false(nrfca_luhn_ok("35265610948078"));
	assert_false(nrfca_luhn_ok("3526561094807833"));
	assert_false(nrfca_luhn_ok("35265610948078a"));
	assert_true(nrfca_is_uuid_lower(V52_UUID));
	assert_false(nrfca_is_uuid_lower("50363953-3234-4723-80B9-1503d88271bf"));
	assert_false(nrfca_is_uuid_lower("50363953-3234-4723-80b9-1503d88271bf0"));
}

/* ---- the shipped file ---- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = malloc(1 << 16);

	assert_non_null(f);
	*len = fread(b, 1, (1 << 16) - 1, f);
	b[*len] = '\0';
	fclose(f);
	return b;
}

static void test_shipped_default(void **state)
{
	const struct nrfca_profile *pr;
	unsigned char md[32];
	char *aws, *coap, hex[65], *report = NULL;
	size_t awsl, coapl, bl, rl = 0, i;
	const char *b;
	FILE *rep;

	(void)state;
	assert_int_equal(nrfca_policy_profile_count(shipped), 4);
	assert_string_equal(nrfca_profile_name(nrfca_policy_default_profile(shipped)), "nrf-cloud-mqtt");
	for (i = 0; i < 4; i++)
		assert_true(strlen(nrfca_profile_description(nrfca_policy_profile_at(shipped, i))) > 20);
	assert_false(nrfca_profile_enabled(nrfca_policy_profile_find(shipped, "host-key")));

	aws = slurp(policy_dir_file("trust/aws-root-ca1.pem"), &awsl);
	coap = slurp(policy_dir_file("trust/nrfcloud-coap-ca.pem"), &coapl);
	/* MQTT: exactly the AWS file; its SHA-256 is what a real modem lists */
	b = nrfca_profile_trust_bundle(nrfca_policy_profile_find(shipped, "nrf-cloud-mqtt"), &bl);
	assert_int_equal(bl, awsl);
	assert_memory_equal(b, aws, awsl);
	SHA256((const unsigned char *)b, bl, md);
	for (i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02X", md[i]);
	assert_string_equal(hex, "2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1");
	/* CoAP: AWS first, then the CoAP root */
	pr = nrfca_policy_profile_find(shipped, "nrf-cloud-coap");
	b = nrfca_profile_trust_bundle(pr, &bl);
	assert_int_equal(bl, awsl + coapl);
	assert_memory_equal(b, aws, awsl);
	assert_memory_equal(b + awsl, coap, coapl);
	free(aws);
	free(coap);

	/* nrfca-admin policy check */
	rep = open_memstream(&report, &rl);
	assert_int_equal(policy_check_file(policy_dir_file("default.json"), rep, NULL), 0);
	fclose(rep);
	assert_non_null(strstr(report, "OK, 4 profiles, default \"nrf-cloud-mqtt\""));
	assert_non_null(strstr(report, "host-key"));
	free(report);
}

/* `policy check` and the start-up log say what a station is trusted with */
static void test_trust_warning(void **state)
{
	char w[1024];
	size_t n;

	(void)state;
	n = nrfca_profile_trust_warning(nrfca_policy_profile_find(shipped, "nrf-cloud-mqtt"), w,
					sizeof(w));
	assert_true(n > 0 && n == strlen(w));
	assert_non_null(strstr(w, "profile 'nrf-cloud-mqtt' does not check who signed the attestation"));
	assert_non_null(strstr(w, "every station is trusted to present genuine modem output"));
	assert_non_null(strstr(w, "any device UUID it names"));
	assert_non_null(strstr(w, "issued through itself only (supersede_from same_station)"));
	assert_non_null(strstr(w, "at most 30 an hour"));
	assert_non_null(strstr(w, "verify_with"));
	n = nrfca_profile_trust_warning(nrfca_policy_profile_find(shipped, "imei"), w, sizeof(w));
	assert_non_null(strstr(w, "any IMEI it names"));
	/* disabled: nothing to warn about */
	assert_int_equal(nrfca_profile_trust_warning(nrfca_policy_profile_find(shipped, "host-key"), w,
						     sizeof(w)), 0);
	assert_string_equal(w, "");
	/* the identity service checks signatures: no warning */
	assert_int_equal(nrfca_profile_trust_warning(nrfca_policy_profile_find(testpol, "verified"), w,
						     sizeof(w)), 0);
	/* groups, station_group and expected devices are named */
	nrfca_profile_trust_warning(nrfca_policy_profile_find(testpol, "grouped"), w, sizeof(w));
	assert_non_null(strstr(w, "a station among line-1 or in group hall-a"));
	assert_non_null(strstr(w, "itself or a station sharing a group with it (supersede_from station_group)"));
	nrfca_profile_trust_warning(nrfca_policy_profile_find(testpol, "anywhere"), w, sizeof(w));
	assert_non_null(strstr(w, "ANY station"));
	nrfca_profile_trust_warning(nrfca_policy_profile_find(testpol, "known"), w, sizeof(w));
	assert_non_null(strstr(w, "require_known_device"));
	nrfca_profile_trust_warning(nrfca_policy_profile_find(testpol, "host"), w, sizeof(w));
	assert_non_null(strstr(w, "takes plain CSRs"));
	/* a short buffer is cut, never overrun */
	n = nrfca_profile_trust_warning(nrfca_policy_profile_find(shipped, "nrf-cloud-mqtt"), w, 40);
	assert_true(n < 40);
	assert_int_equal(strlen(w), n);
}

/* ---- identity keys ---- */

struct sigctx {
	const unsigned char *msg;
	size_t msglen;
	unsigned char sig[128];
	size_t siglen;
	int calls;
};

/* Stands in for nrfca_modem_out_verify_signature: ECDSA over msg. */
static int verify_cb(void *vctx, EVP_PKEY *pub)
{
	struct sigctx *c = vctx;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	c->calls++;
	ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
	     EVP_DigestVerify(md, c->sig, c->siglen, c->msg, c->msglen) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 1 : 0;
}

static void write_pub(const char *name, EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *text;
	long n;

	assert_true(PEM_write_bio_PUBKEY(b, k));
	n = BIO_get_mem_data(b, &p);
	text = malloc((size_t)n + 1);
	memcpy(text, p, (size_t)n);
	text[n] = '\0';
	scratch_write(name, text);
	free(text);
	BIO_free(b);
}

static void test_identity_keys(void **state)
{
	static const unsigned char msg[] = "Sig_Structure of the COSE_Sign1 of device " V52_UUID;
	EVP_PKEY *good = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *wrong = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct nrfca_policy *pdir = NULL, *pwrong = NULL;
	struct nrfca_policy_decision d;
	struct nrfca_policy_facts f;
	struct nrfca_err err = { 0 };
	struct sigctx sc = { .msg = msg, .msglen = sizeof(msg) - 1 };
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *json;
	static const char *const ov_dir[] = {
		"attestation", "{\"required\": true, \"identity_keys\": [\"ids/\"]}", NULL };
	static const char *const ov_wrong[] = {
		"attestation", "{\"required\": true, \"identity_keys\": [\"wrong.pem\"]}", NULL };

	(void)state;
	assert_non_null(good);
	sc.siglen = sizeof(sc.sig);
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, good), 1);
	assert_int_equal(EVP_DigestSign(md, sc.sig, &sc.siglen, msg, sizeof(msg) - 1), 1);
	EVP_MD_CTX_free(md);

	write_pub("ids/a-other.pem", other);
	write_pub("ids/b-good.pem", good);
	scratch_write("ids/README", "not a key, not read");
	write_pub("wrong.pem", wrong);

	json = profile_policy(ov_dir);
	if (nrfca_policy_load_file(scratch_write("idkeys.json", json), &pdir, &err) != 0)
		fail_msg("%s", err.msg);
	free(json);
	json = profile_policy(ov_wrong);
	if (nrfca_policy_load_file(scratch_write("idwrong.json", json), &pwrong, &err) != 0)
		fail_msg("%s", err.msg);
	free(json);

	base_facts(B_V52, &f);
	f.verify = verify_cb;
	f.verify_ctx = &sc;
	assert_int_equal(nrfca_policy_decide(pdir, &f, &d, &err), 0);
	assert_int_equal(sc.calls, 2);  /* a-other.pem first, then b-good.pem */

	sc.calls = 0;
	assert_int_equal(nrfca_policy_decide(pwrong, &f, &d, &err), -1);
	assert_string_equal(d.rule_name, "attestation_signature");
	assert_non_null(strstr(d.detail, "none of the 1 identity keys"));
	assert_int_equal(sc.calls, 1);

	/* a flipped signature bit fails with the right key too */
	sc.sig[sc.siglen - 1] ^= 1;
	assert_int_equal(nrfca_policy_decide(pdir, &f, &d, &err), -1);
	assert_string_equal(d.rule_name, "attestation_signature");
	sc.sig[sc.siglen - 1] ^= 1;

	/* no verifier offered: refused, not skipped */
	f.verify = NULL;
	assert_int_equal(nrfca_policy_decide(pdir, &f, &d, &err), -1);
	assert_string_equal(d.rule_name, "attestation_signature");

	/* a profile without identity keys does not call the verifier */
	sc.calls = 0;
	f.verify = verify_cb;
	assert_int_equal(nrfca_policy_decide(shipped, &f, &d, &err), 0);
	assert_int_equal(sc.calls, 0);

	nrfca_policy_unref(pdir);
	nrfca_policy_unref(pwrong);
	EVP_PKEY_free(good);
	EVP_PKEY_free(other);
	EVP_PKEY_free(wrong);
}

/* ---- rate limits ---- */

static void test_rate_limit_policy(void **state)
{
	static const char *const ov[] = {
		"rate_limit", "{\"per_station_per_minute\": 3, \"per_profile_per_minute\": 5}", NULL };
	struct nrfca_policy *p = NULL;
	struct nrfca_policy_decision d;
	struct nrfca_policy_facts f;
	struct nrfca_err err = { 0 };
	char *json = profile_policy(ov);
	int i;

	(void)state;
	if (nrfca_policy_load_file(scratch_write("rate.json", json), &p, &err) != 0)
		fail_msg("%s", err.msg);
	free(json);
	base_facts(B_V52, &f);
	for (i = 0; i < 3; i++)
		assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), 0);
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), -1);
	assert_string_equal(d.rule_name, "rate_limit");
	assert_true(d.retry_after > 0 && d.retry_after <= 20);
	/* a denied request (other rule) takes no token */
	f.station = "line-2";
	f.binding_ok = 0;
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), -1);
	assert_string_equal(d.rule_name, "attestation_binding");
	f.binding_ok = 1;
	/* another station has its own bucket, but the profile allows 5 in all */
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), 0);
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), 0);
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), -1);
	assert_string_equal(d.rule_name, "rate_limit");
	assert_true(d.retry_after > 0);
	nrfca_policy_unref(p);
}

/* rate_limit.supersedes_per_station_per_hour: a station's budget of replaced
 * certificates; issuing new ones does not spend it, and it refills per hour. */
static void test_supersede_rate(void **state)
{
	static const char *const ov[] = {
		"on_existing", "\"supersede\"",
		"rate_limit", "{\"per_station_per_minute\": 100, \"supersedes_per_station_per_hour\": 2}",
		NULL };
	struct nrfca_policy *p = NULL;
	struct nrfca_policy_decision d;
	struct nrfca_policy_facts f;
	struct nrfca_err err = { 0 };
	char *json = profile_policy(ov);
	int i;

	(void)state;
	if (nrfca_policy_load_file(scratch_write("suprate.json", json), &p, &err) != 0)
		fail_msg("%s", err.msg);
	free(json);
	base_facts(B_V52, &f);
	for (i = 0; i < 5; i++) {  /* new devices: no supersede, no budget spent */
		assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), 0);
		assert_int_equal(d.action, NRFCA_ACTION_ISSUE);
		assert_int_equal(d.charged_supersede, 0);
	}
	m_exist_other(&f);
	for (i = 0; i < 2; i++) {
		assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), 0);
		assert_int_equal(d.action, NRFCA_ACTION_SUPERSEDE);
		assert_int_equal(d.charged_supersede, 1);
		assert_int_equal(d.charged, 1);
	}
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), -1);
	assert_string_equal(d.rule_name, "supersede_rate_limit");
	assert_non_null(strstr(d.detail, "station 'line-1' has replaced 2 certificates"));
	assert_true(d.retry_after > 1700 && d.retry_after <= 1800);  /* 2 an hour: one per 30 min */
	/* a retry whose budget was already charged passes */
	f.no_charge_supersede = 1;
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), 0);
	assert_int_equal(d.charged_supersede, 0);
	f.no_charge_supersede = 0;
	/* the enrollment bucket was not charged by the refusal: 5 + 2 + 1 taken of 100 */
	/* another station has its own budget */
	f.station = "line-2";
	f.existing_station = "line-2";
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), 0);
	assert_int_equal(d.action, NRFCA_ACTION_SUPERSEDE);
	nrfca_policy_unref(p);
}

static void test_rate_limit_buckets(void **state)
{
	struct nrfca_ratelimit *rl = nrfca_ratelimit_new();
	unsigned ra;
	uint64_t t = 1000000;
	int i;

	(void)state;
	for (i = 0; i < 6; i++)
		assert_int_equal(nrfca_ratelimit_take(rl, "p", "s", 6, 0, t, &ra), 1);
	assert_int_equal(nrfca_ratelimit_take(rl, "p", "s", 6, 0, t, &ra), 0);
	assert_int_equal(ra, 10);  /* one token per 10 s */
	assert_int_equal(nrfca_ratelimit_take(rl, "p", "s", 6, 0, t + 9000, &ra), 0);
	assert_int_equal(ra, 1);
	assert_int_equal(nrfca_ratelimit_take(rl, "p", "s", 6, 0, t + 10000, &ra), 1);
	assert_int_equal(nrfca_ratelimit_take(rl, "p", "s", 6, 0, t + 10000, &ra), 0);
	/* a full minute later the bucket is full again, not more */
	for (i = 0; i < 6; i++)
		assert_int_equal(nrfca_ratelimit_take(rl, "p", "s", 6, 0, t + 600000, &ra), 1);
	assert_int_equal(nrfca_ratelimit_take(rl, "p", "s", 6, 0, t + 600000, &ra), 0);
	/* the profile bucket is shared; a refusal by it takes nothing from the station bucket */
	assert_int_equal(nrfca_ratelimit_take(rl, "q", "a", 2, 1, t, &ra), 1);
	assert_int_equal(nrfca_ratelimit_take(rl, "q", "b", 2, 1, t, &ra), 0);
	assert_int_equal(ra, 60);
	assert_int_equal(nrfca_ratelimit_take(rl, "q", "b", 2, 0, t, &ra), 1);
	assert_int_equal(nrfca_ratelimit_take(rl, "q", "b", 2, 0, t, &ra), 1);
	/* many stations: the table grows and stays correct */
	for (i = 0; i < 5000; i++) {
		char st[32];

		snprintf(st, sizeof(st), "station-%d", i);
		assert_int_equal(nrfca_ratelimit_take(rl, "r", st, 1, 0, t, &ra), 1);
	}
	assert_int_equal(nrfca_ratelimit_take(rl, "r", "station-1234", 1, 0, t, &ra), 0);
	nrfca_ratelimit_unref(rl);
}

/* The bucket table is bounded: full of busy buckets it refuses (fail closed);
 * buckets that have refilled are dropped to make room. */
static void test_rate_limit_table_bound(void **state)
{
	struct nrfca_ratelimit *rl = nrfca_ratelimit_new();
	uint64_t t = 5000000;
	char st[32];
	unsigned ra;
	int i;

	(void)state;
	for (i = 0; i < NRFCA_RATELIMIT_MAX_BUCKETS; i++) {
		snprintf(st, sizeof(st), "s%d", i);
		assert_int_equal(nrfca_ratelimit_take(rl, "p", st, 1, 0, t, &ra), 1);
	}
	assert_int_equal(nrfca_ratelimit_take(rl, "p", "newcomer", 1, 0, t + 1000, &ra), 0);
	assert_int_equal(ra, 60);
	/* an existing bucket still works */
	assert_int_equal(nrfca_ratelimit_take(rl, "p", "s7", 1, 0, t + 1000, &ra), 0);
	assert_int_equal(ra, 60);  /* 59.04 s, rounded up */
	/* a minute later every bucket is full again and can be dropped */
	assert_int_equal(nrfca_ratelimit_take(rl, "p", "newcomer", 1, 0, t + 61000, &ra), 1);
	assert_int_equal(nrfca_ratelimit_take(rl, "p", "newcomer", 1, 0, t + 61000, &ra), 0);
	nrfca_ratelimit_unref(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_covers_rules),
		cmocka_unit_test(test_allow_fields),
		cmocka_unit_test(test_luhn),
		cmocka_unit_test(test_shipped_default),
		cmocka_unit_test(test_trust_warning),
		cmocka_unit_test(test_identity_keys),
		cmocka_unit_test(test_rate_limit_policy),
		cmocka_unit_test(test_supersede_rate),
		cmocka_unit_test(test_rate_limit_buckets),
		cmocka_unit_test(test_rate_limit_table_bound),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
