/*
 * ca.c - the issuance pipeline (DESIGN.md "The issuance path"), revocation
 * and the CRL.
 */
#include "ca.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "answer_json.h"
#include "b64url.h"
#include "ceremony.h"
#include "csr.h"
#include "devlist.h"
#include "digest.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "modem_out.h"
#include "policy.h"
#include "policy_store.h"
#include "reject_audit.h"
#include "x509util.h"

#define SERIAL_TRIES 4
#define STALE_TRIES 32  /* decisions made again when the device changed meanwhile (n
                         * requests for one device at once need n - 1) */

struct ca {
	struct signer *signer;
	struct ledger *ledger;
	struct identity *identity;    /* borrowed; NULL when not configured */
	struct reject_audit *rejects;
	STACK_OF(X509) *chain;
	X509 *cert;                   /* chain[0], borrowed from chain */
	char *chain_pem;
	unsigned char *cert_der;      /* chain[0] in DER */
	size_t cert_der_len;
	const EVP_MD *md;
	int crl_hours;

	pthread_mutex_t crl_mu;
	unsigned char *crl_der;
	size_t crl_len;
	time_t crl_this, crl_next;
	long long crl_revoked;        /* revoked certificates the current CRL lists */
	unsigned long long crl_number;
	long long crl_mark;           /* the ledger's revocation mark it was built at */
	int shared_rate;              /* rate limits counted in the ledger (shared) */
	int crl_fresh_needed;         /* sign before serving (ca_crl_fresh_at_start) */
};

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */

/* The text a memory BIO holds, NUL-terminated (malloc'd), or NULL. */
static char *bio_to_string(BIO *b)
{
	char *data, *out;
	long n = BIO_get_mem_data(b, &data);

	out = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (out) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	return out;
}

static char *chain_to_pem(STACK_OF(X509) *chain)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL;
	int i;

	if (b == NULL)
		return NULL;
	for (i = 0; i < sk_X509_num(chain); i++)
		if (PEM_write_bio_X509(b, sk_X509_value(chain, i)) != 1)
			goto out;
	out = bio_to_string(b);
out:
	BIO_free(b);
	return out;
}

static char *x509_to_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL;

	if (b != NULL && PEM_write_bio_X509(b, x) == 1)
		out = bio_to_string(b);
	BIO_free(b);
	return out;
}

/* The policy's rate limits counted in the ledger, for every instance on it:
 * one bucket per (profile, station), one per profile, one per (profile,
 * station) for supersedes, each in fixed windows of its period
 * (ledger_rate_take_n), all counted or none. */
static int shared_rate_take(void *ctx, const char *profile, const char *station,
			    const struct nrfca_rate_req *req, size_t n, unsigned *retry_after,
			    size_t *refused_by, struct nrfca_err *err)
{
	static const char *const prefix[NRFCA_RATE_SCOPE_MAX] = {
		[NRFCA_RATE_PER_STATION] = "s", [NRFCA_RATE_PER_PROFILE] = "p",
		[NRFCA_RATE_SUPERSEDE_PER_STATION] = "x",
	};
	char name[NRFCA_RATE_REQ_MAX][LEDGER_BUCKET_MAX + 1];
	struct ledger_rate r[NRFCA_RATE_REQ_MAX];
	size_t i, k = 0, map[NRFCA_RATE_REQ_MAX], by = 0;
	int ra = 0, rc;

	for (i = 0; i < n && i < NRFCA_RATE_REQ_MAX; i++) {
		if (req[i].limit == 0)
			continue;
		if ((unsigned)req[i].scope >= NRFCA_RATE_SCOPE_MAX)
			return nrfca_err_set(err, NRFCA_E_INTERNAL, "unknown rate-limit scope %d", req[i].scope);
		if (req[i].scope == NRFCA_RATE_PER_PROFILE)
			snprintf(name[k], sizeof(name[k]), "p/%s", profile);
		else
			snprintf(name[k], sizeof(name[k]), "%s/%s/%s", prefix[req[i].scope], profile, station);
		r[k].bucket = name[k];
		r[k].limit = req[i].limit > INT_MAX ? INT_MAX : (int)req[i].limit;
		r[k].period_s = req[i].period_s < 60 ? 60 : (int)req[i].period_s;
		map[k++] = i;
	}
	if (k == 0)
		return 1;
	rc = ledger_rate_take_n(ctx, r, k, &ra, &by, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return 1;
	*retry_after = ra > 0 ? (unsigned)ra : 1;
	if (refused_by != NULL)
		*refused_by = map[by];
	return 0;
}

int ca_open(const struct ca_options *o, struct signer *s, struct ledger *l, struct ca **out,
	    struct nrfca_err *err)
{
	struct ca *ca = calloc(1, sizeof(*ca));

	if (ca == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	ca->signer = s;
	ca->ledger = l;
	ca->identity = o->identity;
	ca->rejects = reject_audit_new(l, 0);
	if (ca->rejects == NULL) {
		free(ca);
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	}
	ca->crl_hours = o->crl_next_update_hours > 0 ? o->crl_next_update_hours : 24;
	pthread_mutex_init(&ca->crl_mu, NULL);
	ca->chain = ceremony_read_chain(o->chain_path, err);
	if (ca->chain == NULL)
		goto fail;
	if (ceremony_check_chain(s, ca->chain, time(NULL), err) != 0) {
		nrfca_err_prefix(err, "CA chain %s", o->chain_path);
		goto fail;
	}
	ca->cert = sk_X509_value(ca->chain, 0);
	ca->chain_pem = chain_to_pem(ca->chain);
	{
		int n = i2d_X509(ca->cert, &ca->cert_der);

		ca->cert_der_len = n > 0 ? (size_t)n : 0;
	}
	if (ca->chain_pem == NULL || ca->cert_der_len == 0) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		goto fail;
	}
	ca->md = EVP_PKEY_get_bits(signer_pkey(s)) >= 384 && EVP_PKEY_get_base_id(signer_pkey(s)) ==
		 EVP_PKEY_EC ? nrfca_md_sha384() : nrfca_md_sha256();
	/* several instances on one ledger: a rate limit is the cluster's */
	if (ledger_shared(l)) {
		if (policy_store_share_rate_limits(shared_rate_take, l, err) != 0)
			goto fail;
		ca->shared_rate = 1;
	}
	*out = ca;
	return 0;
fail:
	ca_free(ca);
	return -1;
}

void ca_free(struct ca *ca)
{
	if (ca == NULL)
		return;
	if (ca->shared_rate)
		policy_store_share_rate_limits(NULL, NULL, NULL);
	reject_audit_free(ca->rejects);   /* writes the pending summaries */
	sk_X509_pop_free(ca->chain, X509_free);
	free(ca->chain_pem);
	OPENSSL_free(ca->cert_der);
	free(ca->crl_der);
	pthread_mutex_destroy(&ca->crl_mu);
	free(ca);
}

const char *ca_chain_pem(const struct ca *ca)
{
	return ca->chain_pem;
}

const unsigned char *ca_cert_der(const struct ca *ca, size_t *len)
{
	*len = ca->cert_der_len;
	return ca->cert_der;
}

json_t *ca_chain_json(const struct ca *ca)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; arr && i < sk_X509_num(ca->chain); i++) {
		char *pem = x509_to_pem(sk_X509_value(ca->chain, i));

		if (pem == NULL) {
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, json_string(pem));
		free(pem);
	}
	return json_pack("{s:o}", "chain", arr);
}

void ca_result_clear(struct ca_result *r)
{
	json_decref(r->body);
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

static void fail_res(struct ca_result *res, int status, const char *code, const char *rule,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void fail_res(struct ca_result *res, int status, const char *code, const char *rule,
		     const char *fmt, ...)
{
	va_list ap;

	json_decref(res->body);
	res->body = NULL;
	res->status = status;
	res->error = code;
	res->rule = rule;
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
}

static void iso_time(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The record's DER as PEM, straight from the bytes (parsing them would
 * decode the key again): the certificate, or a registration's public key. */
static char *record_pem(const struct cert_record *r)
{
	char *pem = NULL;

	if (r->der_len == 0 ||
	    nrfca_der_to_pem(r->kind == CERT_KIND_PUBLIC_KEY ? "PUBLIC KEY" : "CERTIFICATE",
			     r->der, r->der_len, &pem, NULL) != 0)
		return NULL;
	return pem;
}

json_t *ca_record_json(struct ca *ca, const struct cert_record *r)
{
	char nb[32], na[32], ia[32], ra[32], sha[65], *pem = record_pem(r);
	json_t *o;

	(void)ca;
	iso_time(r->not_before, nb);
	iso_time(r->not_after, na);
	iso_time(r->issued_at, ia);
	nrfca_hex_encode(r->csr_sha256, 32, sha);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		      "serial", r->serial, "device_id", r->device_id, "profile", r->profile,
		      "station", r->station, "subject", r->subject, "status",
		      cert_status_name(r->status), "not_before", nb, "not_after", na, "issued_at",
		      ia, "csr_sha256", sha, "uuid", r->uuid, "imei", r->imei);
	if (o == NULL) {
		free(pem);
		return NULL;
	}
	json_object_set_new(o, "sec_tag", r->sec_tag >= 0 ? json_integer(r->sec_tag) : json_null());
	json_object_set_new(o, "request_id", r->request_id[0] ? json_string(r->request_id) :
								 json_null());
	json_object_set_new(o, "slot", r->slot[0] ? json_string(r->slot) : json_null());
	if (r->status == CERT_REVOKED) {
		iso_time(r->revoked_at, ra);
		json_object_set_new(o, "revoked_at", json_string(ra));
		json_object_set_new(o, "revocation_reason",
				    json_string(crl_reason_name(r->revocation_reason) ?
						crl_reason_name(r->revocation_reason) : "unspecified"));
	}
	json_object_set_new(o, "kind", json_string(cert_kind_name(r->kind)));
	if (pem != NULL)
		json_object_set_new(o, r->kind == CERT_KIND_PUBLIC_KEY ? "public_key" :
				    "certificate", json_string(pem));
	free(pem);
	return o;
}

/* The enrollment answer for a recorded certificate into res (201 issued,
 * 200 replay); the trust bundle comes from the record's profile in `pol`,
 * the policy the request holds.  0, or -1 when it cannot be encoded. */
static int enroll_answer(struct ca *ca, const struct nrfca_policy *pol,
			 const struct cert_record *r, int status, struct ca_result *res)
{
	const struct nrfca_profile *pr = nrfca_policy_profile_find(pol, r->profile);
	const char *tb = NULL;
	size_t tbl = 0;

	if (pr != NULL)
		tb = nrfca_profile_trust_bundle(pr, &tbl);
	if (answer_json_write(ca->chain_pem, tb, tbl, r, &res->raw, &res->raw_len) < 0) {
		fail_res(res, 500, "internal", NULL, "cannot encode the answer");
		return -1;
	}
	res->status = status;
	snprintf(res->serial, sizeof(res->serial), "%s", r->serial);
	snprintf(res->device_id, sizeof(res->device_id), "%s", r->device_id);
	return 0;
}

/* ------------------------------------------------------------------ */
/* certificate building */

/* The profile's extensions, never the ones the CSR asks for. */
static int add_profile_extensions(struct ca *ca, X509 *x, const struct nrfca_policy_ext *ext)
{
	return (!ext->basic_constraints ||
		nrfca_x509_add_basic_constraints_ee(x, ext->basic_constraints_critical)) &&
	       (ext->key_usage == 0 ||
		nrfca_x509_add_key_usage(x, ext->key_usage, ext->key_usage_critical)) &&
	       (ext->n_eku == 0 ||
		nrfca_x509_add_eku(x, ext->eku, ext->n_eku, ext->eku_critical)) &&
	       (!ext->subject_key_id || nrfca_x509_add_ski(x)) &&
	       (!ext->authority_key_id || nrfca_x509_add_aki(x, ca->cert));
}

/* The unsigned certificate: a new random serial, the subject, the validity
 * (never beyond the CA certificate), the key and the profile's extensions. */
static X509 *build_cert(struct ca *ca, const struct nrfca_csr *csr, const X509_NAME *subject,
			const struct nrfca_policy_ext *ext, int days,
			char serial[LEDGER_SERIAL_MAX + 1], struct nrfca_err *err)
{
	const X509_ALGOR *alg;
	const ASN1_BIT_STRING *key;
	X509 *x = X509_new();

	nrfca_csr_spki(csr, &alg, &key);
	if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
	    !nrfca_x509_random_serial(x, serial) ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1 ||
	    X509_set_subject_name(x, subject) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL ||
	    !nrfca_x509_set_spki(x, alg, key))
		goto ssl_fail;
	if (X509_cmp_time(X509_get0_notAfter(ca->cert), NULL) > 0 &&
	    ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca->cert)) > 0 &&
	    X509_set1_notAfter(x, X509_get0_notAfter(ca->cert)) != 1)
		goto ssl_fail;
	if (!add_profile_extensions(ca, x, ext) ||
	    !nrfca_x509_add_crl_dp(x, ext->crl_dp, ext->n_crl_dp) ||
	    !nrfca_x509_add_ca_issuers(x, ext->ca_issuers, ext->n_ca_issuers))
		goto ssl_fail;
	return x;
ssl_fail:
	nrfca_err_ssl(err, NRFCA_E_INTERNAL, "cannot build the certificate");
	X509_free(x);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* enrollment: DESIGN.md "The issuance path" as a table of steps */

enum enroll_step {
	E_INTAKE, E_FACTS, E_DECIDE, E_BUILD, E_SIGN, E_REGISTER, E_RECORD, E_ANSWER,
	E_MAX,
	E_END = E_MAX      /* stop: the result holds the answer or the error */
};

/* What the answer step sends. */
enum enroll_outcome { OUT_ISSUED, OUT_REPLAY, OUT_DRY_RUN };

/* One enrollment on its way through the steps.  Everything it holds is
 * released by enrollment_clear. */
struct enrollment {
	struct ca *ca;
	const struct principal *who;
	const struct enroll_req *rq;
	struct ca_result *res;
	/* intake */
	struct nrfca_modem_out *m;        /* %KEYGEN output, or NULL */
	struct nrfca_csr *csr;            /* verified CSR, or NULL (public-key %KEYGEN) */
	int public_key;                   /* %KEYGEN public key: a registration if allowed */
	char device_lc[37];               /* its attested UUID in lower case */
	/* facts */
	struct nrfca_policy *pol;         /* the policy this request holds to the end */
	const struct nrfca_profile *pr;   /* the profile asked for (NULL: unknown) */
	struct nrfca_policy_facts f;
	struct ledger_cred_info caller, holder;  /* station groups, when the profile uses them */
	const char *caller_groups[LEDGER_CRED_GROUPS_MAX], *holder_groups[LEDGER_CRED_GROUPS_MAX];
	unsigned char csr_hash[32], spki_hash[32];
	int csr_seen;                     /* this CSR (or public key) was recorded before:
	                                     `old` is that record */
	struct cert_record old;           /* that record, or the device's active one */
	/* decide */
	struct nrfca_policy_decision d;
	enum enroll_outcome outcome;
	/* build, sign, record */
	X509_NAME *subject;
	X509 *x;
	struct cert_record rec;
	int serial_tries;
	int stale_tries;
	struct nrfca_err e;
};

typedef enum enroll_step (*enroll_step_fn)(struct enrollment *en);

static int verify_attestation(void *arg, EVP_PKEY *identity_pub)
{
	const struct nrfca_modem_out *m = arg;

	return nrfca_modem_out_verify_signature(m, identity_pub, NULL) == 0 ? 1 : 0;
}

static void one_line_subject(const X509_NAME *n, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long k;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
		k = BIO_get_mem_data(b, &data);
		snprintf(out, len, "%.*s", (int)k, data);
	}
	BIO_free(b);
}

static int status_for_rule(enum nrfca_policy_rule r, const char **code)
{
	switch (r) {
	case NRFCA_RULE_RATE_LIMIT:
	case NRFCA_RULE_SUPERSEDE_RATE:
		*code = "rate_limited";
		return 429;
	case NRFCA_RULE_ON_EXISTING:
	case NRFCA_RULE_SUPERSEDE_SCOPE:
		*code = "device_has_certificate";
		return 409;
	case NRFCA_RULE_IDENTITY_UNAVAILABLE:
		*code = "identity_unavailable";
		return 503;
	default:
		*code = "policy_denied";
		return 403;
	}
}

/* The policy's question to nRF Cloud's Identity Service about this
 * request's attestation (asked only when every cheaper rule allows). */
static enum nrfca_identity_verdict ask_identity(void *arg, char *detail, size_t len,
						unsigned *retry_after)
{
	struct enrollment *en = arg;
	enum nrfca_identity_verdict v;
	int cached = 0;
	double t0 = mono_now();

	v = identity_verify(en->ca->identity, en->m->payload, en->m->payload_len,
			    en->m->device_uuid_str, detail, len, retry_after, &cached);
	metrics_inc(M_IDENTITY_VERDICTS, nrfca_identity_verdict_name(v),
		    cached ? "cache" : "service");
	if (!cached)
		metrics_observe(M_IDENTITY_SECONDS, "verify", mono_now() - t0);
	return v;
}

static enum enroll_step db_unavailable(struct enrollment *en)
{
	fail_res(en->res, 503, "database_unavailable", NULL, "%s", en->e.msg);
	en->res->retry_after = 2;
	return E_END;
}

static enum enroll_step bad_csr(struct enrollment *en)
{
	fail_res(en->res, 400, en->e.code == NRFCA_E_CRYPTO ? "csr_signature" : "invalid_csr",
		 NULL, "%s", en->e.msg);
	return E_END;
}

/* %KEYGEN with response content 1 carries a bare public key: describe it so
 * the policy can name what it refuses. */
static int describe_public_key(struct enrollment *en)
{
	EVP_PKEY *pk = NULL;
	char g[64] = "";
	size_t gl = 0;

	if (nrfca_spki_from_der(en->m->part1, en->m->part1_len, &pk, &en->e) != 0)
		return -1;
	en->f.key_type = EVP_PKEY_get_base_id(pk);
	en->f.key_bits = EVP_PKEY_get_bits(pk);
	en->f.curve_nid = NID_undef;
	if (en->f.key_type == EVP_PKEY_EC) {
		EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, g, sizeof(g), &gl);
		en->f.curve_nid = OBJ_sn2nid(g);
	}
	EVP_PKEY_free(pk);
	return 0;
}

static enum enroll_step intake_keygen(struct enrollment *en)
{
	const struct enroll_req *rq = en->rq;
	struct nrfca_policy_facts *f = &en->f;

	if (nrfca_modem_out_parse(rq->keygen, rq->keygen_len, &en->m, &en->e) != 0) {
		fail_res(en->res, 400, en->e.code == NRFCA_E_BINDING ? "keygen_binding" :
			 "invalid_keygen", NULL, "%s", en->e.msg);
		return E_END;
	}
	if (en->m->kind == NRFCA_MODEM_ATTEST_TOKEN) {
		fail_res(en->res, 400, "invalid_keygen", NULL,
			 "this is %%ATTESTTOKEN output; enrollment needs the %%KEYGEN output "
			 "of AT%%KEYGEN=<sec_tag>,2,0");
		return E_END;
	}
	f->input = NRFCA_INPUT_KEYGEN;
	f->has_attestation = 1;
	f->binding_ok = en->m->binding_ok;
	f->attested_uuid = en->m->device_uuid_str;
	f->has_sec_tag = en->m->has_sec_tag;
	f->sec_tag = en->m->sec_tag;
	f->payload_id = en->m->payload_id;
	f->verify = verify_attestation;
	f->verify_ctx = en->m;
	if (en->ca->identity != NULL) {
		f->identity = ask_identity;
		f->identity_ctx = en;
	}
	if (en->m->kind == NRFCA_MODEM_PUBLIC_KEY) {
		if (describe_public_key(en) != 0) {
			fail_res(en->res, 400, "invalid_keygen", NULL, "%s", en->e.msg);
			return E_END;
		}
		/* replay and the device's key are found by the key's hash */
		en->public_key = 1;
		f->input = NRFCA_INPUT_PUBLIC_KEY;
		SHA256(en->m->part1, en->m->part1_len, en->spki_hash);
		memcpy(en->csr_hash, en->spki_hash, 32);
	}
	if (en->m->kind == NRFCA_MODEM_CSR &&
	    nrfca_csr_from_der(en->m->part1, en->m->part1_len, &en->csr, &en->e) != 0)
		return bad_csr(en);
	return E_FACTS;
}

/* intake: parse the %KEYGEN output (attestation binding) or the PEM CSR and
 * verify the CSR's self-signature (proof of possession). */
static enum enroll_step step_intake(struct enrollment *en)
{
	const struct enroll_req *rq = en->rq;

	if (rq->keygen != NULL)
		return intake_keygen(en);
	if (rq->csr_pem != NULL) {
		if (nrfca_csr_from_pem(rq->csr_pem, rq->csr_len, &en->csr, &en->e) != 0)
			return bad_csr(en);
		en->f.input = NRFCA_INPUT_CSR;
		return E_FACTS;
	}
	fail_res(en->res, 400, "invalid_request", NULL,
		 "the body needs \"keygen\" (%%KEYGEN output) or \"csr\" (PEM)");
	return E_END;
}

/* The device the request is for: the CSR's CN, or for a public key the
 * attested UUID in lower case (what a registration records). */
static const char *device_of(struct enrollment *en)
{
	size_t i;

	if (!en->public_key)
		return en->f.cn;
	if (en->m->device_uuid_str[0] == '\0' || strlen(en->m->device_uuid_str) != 36)
		return NULL;
	for (i = 0; i <= 36; i++)
		en->device_lc[i] = (char)tolower((unsigned char)en->m->device_uuid_str[i]);
	return en->device_lc;
}

/* The groups of a credential into info / names / *n (none when unknown). */
static int cred_groups(struct enrollment *en, const char *name, struct ledger_cred_info *info,
		       const char **names, size_t *n)
{
	int rc, i;

	*n = 0;
	memset(info, 0, sizeof(*info));
	rc = ledger_cred_get(en->ca->ledger, name, info, &en->e);
	if (rc < 0)
		return -1;
	for (i = 0; rc == 0 && i < info->n_groups && i < LEDGER_CRED_GROUPS_MAX; i++)
		names[(*n)++] = info->groups[i];
	return 0;
}

/* The groups of the station holding the device's certificate, when the
 * profile lets stations of a group supersede each other's certificates. */
static int holder_groups(struct enrollment *en)
{
	struct nrfca_policy_facts *f = &en->f;

	f->existing_groups = NULL;
	f->n_existing_groups = 0;
	if (en->pr == NULL || f->existing_station == NULL ||
	    nrfca_profile_supersede_from(en->pr) != NRFCA_SUPERSEDE_STATION_GROUP ||
	    strcmp(f->existing_station, en->who->name) == 0)
		return 0;
	f->existing_groups = en->holder_groups;
	return cred_groups(en, f->existing_station, &en->holder, en->holder_groups,
			   &f->n_existing_groups);
}

/* Is the device expected at the calling station or its groups?  Asked by
 * the identifiers the policy knows it by (attested UUID, CN, the IMEI in the
 * CN, the IMEI the station read), for profiles with require_known_device. */
static int known_device_facts(struct enrollment *en)
{
	const char *cand[3] = { en->f.attested_uuid, en->f.cn, en->f.imei };
	char id[DEVLIST_ID_MAX + 1], why[160];
	int expected = 0;
	size_t i;

	en->f.known_device = NRFCA_KNOWN_NOT_LOOKED_UP;
	if (en->pr == NULL || !nrfca_profile_requires_known_device(en->pr))
		return 0;
	for (i = 0; i < 3; i++) {
		if (cand[i] == NULL || strlen(cand[i]) > 64 ||
		    devlist_normalise(cand[i], strlen(cand[i]), id, why, sizeof(why)) != 0)
			continue;
		if (ledger_expected_check(en->ca->ledger, id, en->who->name, &expected, &en->e) != 0)
			return -1;
		if (expected)
			break;
	}
	en->f.known_device = expected ? NRFCA_KNOWN_YES : NRFCA_KNOWN_NO;
	return 0;
}

/* What the ledger knows: a certificate for this very CSR (a replay), else
 * the device's active certificate (the ledger's one-active holder, which the
 * record step names to the ledger), whether it has the same key, and the
 * station it was issued through (the policy's supersede_scope decides on
 * it).  Callers may run it again to decide with fresh facts. */
static int ledger_facts(struct enrollment *en)
{
	struct nrfca_policy_facts *f = &en->f;
	int rc, holder = 0;

	cert_record_clear(&en->old);
	memset(&en->old, 0, sizeof(en->old));
	en->csr_seen = 0;
	f->existing = NRFCA_EXISTING_NONE;
	f->existing_station = NULL;
	f->existing_serial = NULL;
	f->csr_replay = 0;
	if (en->csr == NULL && !en->public_key)
		return 0;
	if (device_of(en) != NULL) {
		/* both in one read: this CSR's record first, else the holder */
		rc = ledger_find_csr_or_holder(en->ca->ledger, en->csr_hash, device_of(en), en->public_key ?
					       CERT_KIND_PUBLIC_KEY : CERT_KIND_CERTIFICATE, &en->old,
					       &holder, &en->e);
		if (rc < 0)
			return -1;
	} else {
		rc = ledger_find_by_csr(en->ca->ledger, en->csr_hash, &en->old, &en->e);
		if (rc < 0)
			return -1;
		if (rc != 0)
			return 0;
	}
	en->csr_seen = rc == 0 && !holder;
	if (en->csr_seen) {
		/* a replay: answered only to a station in that record's scope */
		f->csr_replay = 1;
		f->existing = NRFCA_EXISTING_SAME_KEY;
		f->existing_station = en->old.station;
		f->existing_serial = en->old.serial;
		return holder_groups(en);
	}
	if (rc == 0) {
		f->existing = memcmp(en->old.pubkey_sha256, en->spki_hash, 32) == 0 ?
			      NRFCA_EXISTING_SAME_KEY : NRFCA_EXISTING_OTHER_KEY;
		f->existing_station = en->old.station;
		f->existing_serial = en->old.serial;
	}
	return holder_groups(en);
}

/* facts: what the policy decides on: the request, the caller, the CSR, the
 * policy in force and the ledger. */
static enum enroll_step step_facts(struct enrollment *en)
{
	struct nrfca_policy_facts *f = &en->f;

	f->profile = en->rq->profile;
	f->station = en->who->name;
	f->imei = en->rq->imei;
	f->requested_days = en->rq->validity_days;
	if (en->csr != NULL) {
		f->cn = nrfca_csr_cn(en->csr);
		f->subject = nrfca_csr_subject(en->csr);
		f->key_type = nrfca_csr_key_type(en->csr);
		f->curve_nid = nrfca_csr_curve_nid(en->csr);
		f->key_bits = nrfca_csr_key_bits(en->csr);
		nrfca_csr_sha256(en->csr, en->csr_hash);
		nrfca_csr_spki_sha256(en->csr, en->spki_hash);
	}
	en->pol = policy_acquire();
	if (en->pol == NULL) {
		fail_res(en->res, 503, "no_policy", NULL, "no issuance policy is loaded");
		en->res->retry_after = 5;
		return E_END;
	}
	en->pr = nrfca_policy_profile_for(en->pol, en->rq->profile);
	if (en->pr != NULL && nrfca_profile_uses_groups(en->pr)) {
		en->f.groups = en->caller_groups;
		if (cred_groups(en, en->who->name, &en->caller, en->caller_groups,
				&en->f.n_groups) != 0)
			return db_unavailable(en);
	}
	if (ledger_facts(en) != 0 || known_device_facts(en) != 0)
		return db_unavailable(en);
	return E_DECIDE;
}

/* What the "issue" audit entry says beyond the record: how the attestation
 * was judged and, for a supersede, whose certificate is replaced (again after
 * a stale answer: the decision may have changed). */
static void audit_notes(struct enrollment *en)
{
	struct cert_record *rec = &en->rec;

	snprintf(rec->attestation, sizeof(rec->attestation), "%s",
		 en->d.attestation != NULL ? en->d.attestation : "");
	snprintf(rec->supersedes_station, sizeof(rec->supersedes_station), "%s",
		 en->d.action == NRFCA_ACTION_SUPERSEDE ? en->old.station : "");
}

/* decide: the policy's verdict; a replay of an issued request or a dry run
 * is answered without signing (and without a rate-limit charge). */
static enum enroll_step step_decide(struct enrollment *en)
{
	const struct enroll_req *rq = en->rq;
	struct nrfca_policy_decision *d = &en->d;
	const char *code;
	int st;

	en->f.no_charge = en->csr_seen || rq->dry_run || en->stale_tries > 0;
	if (nrfca_policy_decide(en->pol, &en->f, d, &en->e) != 0) {
		if (d->rule == NRFCA_RULE_NONE) { /* no verdict: the shared counters failed */
			if (en->e.code == NRFCA_E_DB)
				return db_unavailable(en);
			fail_res(en->res, 500, "internal", NULL, "%s", en->e.msg);
			return E_END;
		}
		st = status_for_rule(d->rule, &code);
		fail_res(en->res, st, code, d->rule_name, "%s", d->detail);
		en->res->retry_after = d->retry_after;
		if (!rq->dry_run) {   /* a dry run is a question, not a refused enrollment */
			metrics_inc(M_REJECTIONS, d->rule_name, en->who->name);
			/* refusals, bounded per (station, rule) and interval; not the rate
			 * limits and not an unanswering identity service (a log line) */
			if (st != 429 && st != 503)
				reject_audit_note(en->ca->rejects, en->who->name, d->rule_name,
						  d->profile_name, d->detail);
		}
		return E_END;
	}
	if (en->csr == NULL && !d->registration) {
		fail_res(en->res, 400, "invalid_keygen", NULL,
			 "this %%KEYGEN output carries a public key, not a CSR, so it proves no "
			 "possession of the key; use AT%%KEYGEN=<sec_tag>,2,0, or a profile that "
			 "registers public keys");
		return E_END;
	}
	if (en->csr_seen && en->old.status != CERT_ACTIVE) {
		if (en->public_key)
			fail_res(en->res, 409, "registration_revoked", NULL,
				 "this public key was registered before (serial %s) and that "
				 "registration is revoked; generate a new key", en->old.serial);
		else
			fail_res(en->res, 409, "certificate_revoked", NULL,
				 "this CSR was certified before (serial %s) and that certificate is "
				 "revoked; generate a new key", en->old.serial);
		return E_END;
	}
	if (en->csr_seen || d->action == NRFCA_ACTION_REPLAY) {
		en->outcome = OUT_REPLAY;
		return E_ANSWER;
	}
	if (rq->dry_run) {
		en->outcome = OUT_DRY_RUN;
		return E_ANSWER;
	}
	if (d->charged_supersede)   /* a retry after a stale answer does not pay twice */
		en->f.no_charge_supersede = 1;
	if (en->rec.der != NULL)
		audit_notes(en);
	en->outcome = OUT_ISSUED;
	if (en->rec.der != NULL)
		return E_RECORD;      /* signed (or described) before a stale answer: reuse */
	return d->registration ? E_REGISTER : E_BUILD;
}

/* The ledger's description of the certificate being issued (DER added by
 * the sign step). */
static void describe_record(struct enrollment *en, const char *serial)
{
	struct cert_record *rec = &en->rec;
	struct tm tm;

	cert_record_clear(rec);
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->serial, sizeof(rec->serial), "%s", serial);
	snprintf(rec->device_id, sizeof(rec->device_id), "%s", en->d.device_id);
	if (en->m != NULL)
		snprintf(rec->uuid, sizeof(rec->uuid), "%s", en->m->device_uuid_str);
	snprintf(rec->imei, sizeof(rec->imei), "%s", en->d.imei);
	snprintf(rec->profile, sizeof(rec->profile), "%s", en->d.profile_name);
	snprintf(rec->station, sizeof(rec->station), "%s", en->who->name);
	rec->sec_tag = (en->m != NULL && en->m->has_sec_tag) ? (long long)en->m->sec_tag : -1;
	memcpy(rec->csr_sha256, en->csr_hash, 32);
	memcpy(rec->pubkey_sha256, en->spki_hash, 32);
	one_line_subject(en->subject, rec->subject, sizeof(rec->subject));
	ASN1_TIME_to_tm(X509_get0_notBefore(en->x), &tm);
	rec->not_before = (long long)timegm(&tm);
	ASN1_TIME_to_tm(X509_get0_notAfter(en->x), &tm);
	rec->not_after = (long long)timegm(&tm);
	rec->status = CERT_ACTIVE;
	rec->revocation_reason = -1;
	rec->kind = CERT_KIND_CERTIFICATE;
	rec->one_active = 1;   /* every on_existing mode allows one active certificate */
	if (en->rq->request_id)
		snprintf(rec->request_id, sizeof(rec->request_id), "%s", en->rq->request_id);
	audit_notes(en);
	if (en->rq->slot)
		snprintf(rec->slot, sizeof(rec->slot), "%s", en->rq->slot);
}

/* build: the certificate from the profile (subject, validity, extensions)
 * with the CSR's key and a new random serial. */
static enum enroll_step step_build(struct enrollment *en)
{
	char serial[LEDGER_SERIAL_MAX + 1];

	if (en->subject == NULL &&
	    nrfca_profile_subject(en->d.profile, en->d.device_id, &en->subject, &en->e) != 0) {
		fail_res(en->res, 500, "internal", NULL, "%s", en->e.msg);
		return E_END;
	}
	X509_free(en->x);
	en->x = build_cert(en->ca, en->csr, en->subject, en->d.ext,
			   en->d.validity_days, serial, &en->e);
	if (en->x == NULL) {
		fail_res(en->res, 500, "internal", NULL, "%s", en->e.msg);
		return E_END;
	}
	describe_record(en, serial);
	return E_SIGN;
}

/* sign: inside the token; the record gets the certificate's DER. */
static enum enroll_step step_sign(struct enrollment *en)
{
	struct cert_record *rec = &en->rec;
	unsigned char *p;
	double t0 = mono_now();
	int n;

	if (X509_sign(en->x, signer_pkey(en->ca->signer), en->ca->md) <= 0) {
		signer_thread_error(&en->e);
		ERR_clear_error();
		if (en->e.code == NRFCA_E_TOKEN || en->e.code == NRFCA_E_PIN) {
			fail_res(en->res, 503, "token_unavailable", NULL, "%s", en->e.msg);
			en->res->retry_after = 2;
		} else {
			fail_res(en->res, 500, "internal", NULL, "%s", en->e.msg);
		}
		return E_END;
	}
	metrics_observe(M_SIGN_SECONDS, "certificate", mono_now() - t0);
	n = i2d_X509(en->x, NULL);
	if (n <= 0 || n > LEDGER_DER_MAX || (rec->der = malloc((size_t)n)) == NULL) {
		fail_res(en->res, 500, "internal", NULL, "cannot encode the certificate");
		return E_END;
	}
	p = rec->der;
	rec->der_len = (size_t)i2d_X509(en->x, &p);
	return E_RECORD;
}

/* register: the variant of build + sign for a public-key profile.  The
 * record holds the attested public key (SubjectPublicKeyInfo DER) as kind
 * public_key; its hash is the replay key; nothing is signed.  It is
 * recorded, listed, fetched and revoked like a certificate, never in the
 * CRL. */
static enum enroll_step step_register(struct enrollment *en)
{
	struct cert_record *rec = &en->rec;
	char serial[LEDGER_SERIAL_MAX + 1];
	unsigned char b[16];
	time_t now = time(NULL);

	if (!nrfca_random_serial(b, serial)) {
		fail_res(en->res, 500, "internal", NULL, "no random bytes for a serial");
		return E_END;
	}
	cert_record_clear(rec);
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->serial, sizeof(rec->serial), "%s", serial);
	snprintf(rec->device_id, sizeof(rec->device_id), "%s", en->d.device_id);
	snprintf(rec->uuid, sizeof(rec->uuid), "%s", en->m->device_uuid_str);
	snprintf(rec->imei, sizeof(rec->imei), "%s", en->d.imei);
	snprintf(rec->profile, sizeof(rec->profile), "%s", en->d.profile_name);
	snprintf(rec->station, sizeof(rec->station), "%s", en->who->name);
	rec->sec_tag = en->m->has_sec_tag ? (long long)en->m->sec_tag : -1;
	memcpy(rec->csr_sha256, en->csr_hash, 32);
	memcpy(rec->pubkey_sha256, en->spki_hash, 32);
	rec->not_before = (long long)now;
	rec->not_after = (long long)now + 86400LL * en->d.validity_days;
	rec->status = CERT_ACTIVE;
	rec->revocation_reason = -1;
	rec->kind = CERT_KIND_PUBLIC_KEY;
	rec->one_active = 1;
	if (en->rq->request_id)
		snprintf(rec->request_id, sizeof(rec->request_id), "%s", en->rq->request_id);
	rec->der = malloc(en->m->part1_len);
	if (rec->der == NULL) {
		fail_res(en->res, 500, "internal", NULL, "out of memory");
		return E_END;
	}
	memcpy(rec->der, en->m->part1, en->m->part1_len);
	rec->der_len = en->m->part1_len;
	return E_RECORD;
}

/* record: certificate + audit entry in one transaction (superseding the
 * device's active certificate when the policy says so).  The ledger checks
 * in that transaction that the device's certificate is still the one the
 * decision saw; if another request changed it meanwhile, read the device
 * again and decide again (bounded).  Nothing is answered that is not
 * committed. */
static enum enroll_step step_record(struct enrollment *en)
{
	const char *seen = en->old.serial[0] != '\0' ? en->old.serial : NULL;

	if (ledger_record_issuance(en->ca->ledger, &en->rec, en->who->name, seen, &en->e) == 0)
		return E_ANSWER;
	if (en->e.code == NRFCA_E_STALE && en->stale_tries++ < STALE_TRIES) {
		/* the device changed hands meanwhile: decide again on the new holder
		 * (supersede_scope applies to it like to any other) */
		nlog(NLOG_INFO, "enroll_stale", "device_id", en->rec.device_id, "station",
		     en->who->name, "detail", en->e.msg, NULL);
		if (ledger_facts(en) != 0)
			return db_unavailable(en);
		return E_DECIDE;
	}
	if (en->e.code == NRFCA_E_EXISTS) {   /* serial collision: new serial, sign again */
		if (++en->serial_tries < SERIAL_TRIES)
			return en->public_key ? E_REGISTER : E_BUILD;
		fail_res(en->res, 500, "internal", NULL, "no free serial number after %d tries",
			 SERIAL_TRIES);
		return E_END;
	}
	if (en->e.code == NRFCA_E_CONFLICT) {
		/* a concurrent request for the same CSR won: answer its certificate */
		cert_record_clear(&en->old);
		memset(&en->old, 0, sizeof(en->old));
		if (ledger_find_by_csr(en->ca->ledger, en->csr_hash, &en->old, NULL) == 0) {
			en->csr_seen = 1;
			en->outcome = OUT_REPLAY;
			return E_ANSWER;
		}
	}
	if (en->e.code == NRFCA_E_DB)
		return db_unavailable(en);
	fail_res(en->res, 409, "conflict", NULL, "%s", en->e.msg);
	return E_END;
}

static json_t *dry_run_body(const struct nrfca_policy_decision *d)
{
	return json_pack("{s:b, s:s, s:s, s:s, s:s, s:i, s:b}", "dry_run", 1, "decision", "allow",
			 "profile", d->profile_name, "device_id", d->device_id, "action",
			 d->action == NRFCA_ACTION_SUPERSEDE ? "supersede" :
			 d->registration ? "register" : "issue",
			 "validity_days", d->validity_days, "registration", d->registration);
}

/* answer: 201 with the new certificate, 200 with the one issued before for
 * a replay, or 200 with the verdict of a dry run. */
static enum enroll_step step_answer(struct enrollment *en)
{
	struct ca_result *res = en->res;

	switch (en->outcome) {
	case OUT_DRY_RUN:
		res->status = 200;
		res->body = dry_run_body(&en->d);
		return E_END;
	case OUT_REPLAY:
		if (enroll_answer(en->ca, en->pol, &en->old, 200, res) == 0)
			metrics_inc(M_REPLAYS, en->old.profile, NULL);
		return E_END;
	case OUT_ISSUED:
		break;
	}
	/* recorded: counted, and a supersede's revocation signed into the CRL,
	 * even if the answer cannot be encoded */
	(void)enroll_answer(en->ca, en->pol, &en->rec, 201, res);
	metrics_inc(en->rec.kind == CERT_KIND_PUBLIC_KEY ? M_KEYS_REGISTERED : M_CERTS_ISSUED,
		    en->rec.profile, en->rec.station);
	if (en->d.action == NRFCA_ACTION_SUPERSEDE) {
		metrics_inc(M_REVOCATIONS, "superseded", NULL);
		metrics_inc(M_SUPERSEDES, en->rec.profile, en->rec.station);
		/* signs when the revocation mark moved: a superseded
		 * registration is never in the CRL and leaves it */
		ca_crl_tick(en->ca);
	}
	return E_END;
}

/* The issuance path, in order.  A step returns the step to run next (a
 * replay or a dry run jumps to the answer; a serial collision goes back to
 * build) or E_END once the result holds the answer or the error. */
static const struct {
	const char *name;
	enroll_step_fn run;
} enroll_steps[E_MAX] = {
	[E_INTAKE] = { "intake", step_intake },   /* %KEYGEN or CSR, binding, self-signature */
	[E_FACTS] = { "facts", step_facts },      /* request, caller, CSR, policy, ledger */
	[E_DECIDE] = { "decide", step_decide },   /* policy verdict; replay; dry run */
	[E_BUILD] = { "build", step_build },      /* from the profile, with the CSR's key */
	[E_SIGN] = { "sign", step_sign },         /* inside the token */
	[E_REGISTER] = { "register", step_register }, /* public-key profile: the key, unsigned */
	[E_RECORD] = { "record", step_record },   /* certificate + audit, one transaction */
	[E_ANSWER] = { "answer", step_answer },   /* 201 issued, 200 replay or dry run */
};

/* Bounds the walk: even with every retry a request visits few steps. */
#define ENROLL_STEPS_MAX (E_MAX * (SERIAL_TRIES + 2) + 2 * STALE_TRIES)

static void enrollment_clear(struct enrollment *en)
{
	X509_free(en->x);
	X509_NAME_free(en->subject);
	cert_record_clear(&en->rec);
	cert_record_clear(&en->old);
	if (en->pol)
		policy_release(en->pol);
	nrfca_csr_free(en->csr);
	nrfca_modem_out_free(en->m);
}

void ca_enroll(struct ca *ca, const struct principal *who, const struct enroll_req *rq,
	       struct ca_result *res)
{
	struct enrollment en;
	enum enroll_step s = E_INTAKE;
	int visited = 0;

	memset(res, 0, sizeof(*res));
	memset(&en, 0, sizeof(en));
	en.ca = ca;
	en.who = who;
	en.rq = rq;
	en.res = res;
	while (s != E_END && visited++ < ENROLL_STEPS_MAX)
		s = enroll_steps[s].run(&en);
	if (s != E_END)
		fail_res(res, 500, "internal", NULL, "the enrollment did not finish (step %s)",
			 enroll_steps[s].name);
	enrollment_clear(&en);
}

int ca_station_may_see(struct ca *ca, const struct principal *who, const struct cert_record *r)
{
	struct ledger_cred_info *ci = NULL;
	const struct nrfca_profile *pr;
	const char *g[2][LEDGER_CRED_GROUPS_MAX];
	size_t n[2] = { 0, 0 };
	struct nrfca_policy *pol;
	int ok, k, i;

	if (who->role != ROLE_STATION || strcmp(r->station, who->name) == 0)
		return 1;
	pol = policy_acquire();
	pr = pol != NULL ? nrfca_policy_profile_find(pol, r->profile) : NULL;
	if (pr != NULL && nrfca_profile_supersede_from(pr) == NRFCA_SUPERSEDE_STATION_GROUP &&
	    (ci = calloc(2, sizeof(*ci))) != NULL) {
		/* the two stations' groups; a ledger failure shows nothing */
		for (k = 0; k < 2; k++) {
			if (ledger_cred_get(ca->ledger, k == 0 ? who->name : r->station, &ci[k],
					    NULL) != 0)
				continue;
			for (i = 0; i < ci[k].n_groups && i < LEDGER_CRED_GROUPS_MAX; i++)
				g[k][n[k]++] = ci[k].groups[i];
		}
	}
	ok = nrfca_profile_station_in_scope(pr, who->name, g[0], n[0], r->station, g[1], n[1]);
	free(ci);
	policy_release(pol);
	return ok;
}

/* ------------------------------------------------------------------ */
/* revocation and CRL */

void ca_revoke(struct ca *ca, const struct principal *who, const char *serial,
	       const char *reason, struct ca_result *res)
{
	struct nrfca_err e = { 0 };
	long long when = 0;
	char ts[32];
	int code;

	memset(res, 0, sizeof(*res));
	code = crl_reason_from_name(reason ? reason : "unspecified");
	if (code < 0 || code == CRL_REASON_REMOVE_FROM_CRL) {
		fail_res(res, 400, "invalid_reason", NULL,
			 "'%s' is not an RFC 5280 revocation reason (e.g. keyCompromise, "
			 "superseded, cessationOfOperation)", reason ? reason : "");
		return;
	}
	if (ledger_revoke(ca->ledger, serial, code, who->name, &when, &e) != 0) {
		if (e.code == NRFCA_E_NOTFOUND)
			fail_res(res, 404, "not_found", NULL, "no certificate with serial %s", serial);
		else if (e.code == NRFCA_E_CONFLICT)
			fail_res(res, 409, "already_revoked", NULL, "%s", e.msg);
		else if (e.code == NRFCA_E_INPUT)
			fail_res(res, 400, "invalid_request", NULL, "%s", e.msg);
		else {
			fail_res(res, 503, "database_unavailable", NULL, "%s", e.msg);
			res->retry_after = 2;
		}
		return;
	}
	metrics_inc(M_REVOCATIONS, crl_reason_name(code), NULL);
	ca_crl_tick(ca);   /* a certificate's revocation moved the mark: signed now */
	iso_time(when, ts);
	res->status = 200;
	res->body = json_pack("{s:s, s:s, s:s, s:s}", "serial", serial, "status", "revoked",
			      "reason", crl_reason_name(code), "revoked_at", ts);
}

struct crl_build {
	X509_CRL *crl;
	long long listed;             /* entries added (an empty CRL has no list at all) */
	int failed;
};

static int add_revoked(const char *serial, long long revoked_at, int reason, void *arg)
{
	struct crl_build *cb = arg;
	X509_REVOKED *rv = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)revoked_at);
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	ASN1_ENUMERATED *rs = NULL;

	if (rv == NULL || t == NULL || BN_hex2bn(&bn, serial) == 0 ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_REVOKED_set_serialNumber(rv, sn) != 1 ||
	    X509_REVOKED_set_revocationDate(rv, t) != 1)
		goto fail;
	if (reason > 0) {
		rs = ASN1_ENUMERATED_new();
		if (rs == NULL || ASN1_ENUMERATED_set(rs, reason) != 1 ||
		    X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, rs, 0, 0) != 1)
			goto fail;
	}
	if (X509_CRL_add0_revoked(cb->crl, rv) != 1)
		goto fail;
	rv = NULL;
	cb->listed++;
	goto out;
fail:
	cb->failed = 1;
out:
	X509_REVOKED_free(rv);
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(sn);
	ASN1_ENUMERATED_free(rs);
	BN_free(bn);
	return cb->failed;
}

/* Replace the cached CRL (takes der).  Called with crl_mu held. */
static void crl_cache(struct ca *ca, unsigned char *der, size_t len, const struct ledger_crl *c,
		      long long entries)
{
	free(ca->crl_der);
	ca->crl_der = der;
	ca->crl_len = len;
	ca->crl_this = (time_t)c->this_update;
	ca->crl_next = (time_t)c->next_update;
	/* not sk_X509_REVOKED_num(): it is -1 for an empty list */
	ca->crl_revoked = entries;
	ca->crl_number = c->number;
	ca->crl_mark = c->mark;
}

/* Sign a new CRL with every revocation the ledger holds, publish it in the
 * ledger for every process and instance, and cache it.  crl_mu held. */
static int crl_sign_locked(struct ca *ca, struct nrfca_err *err)
{
	struct crl_build cb = { NULL, 0, 0 };
	struct ledger_crl lc = { 0 };
	unsigned long long number = 0;
	ASN1_TIME *last = NULL, *next = NULL;
	ASN1_INTEGER *num = NULL;
	AUTHORITY_KEYID *akid = NULL;
	unsigned char *der = NULL, *p;
	time_t now = time(NULL);
	long long mark = 0;
	int n, rc = -1, published = 0;
	double t0;

	/* the mark first: a revocation committed while the list is read makes
	 * this CRL stale at once, never silently incomplete */
	if (ledger_revocation_mark(ca->ledger, &mark, err) != 0)
		return -1;
	cb.crl = X509_CRL_new();
	if (cb.crl == NULL || X509_CRL_set_version(cb.crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(cb.crl, X509_get_subject_name(ca->cert)) != 1)
		goto ssl_fail;
	last = ASN1_TIME_set(NULL, now);
	next = ASN1_TIME_set(NULL, now + (time_t)ca->crl_hours * 3600);
	if (last == NULL || next == NULL || X509_CRL_set1_lastUpdate(cb.crl, last) != 1 ||
	    X509_CRL_set1_nextUpdate(cb.crl, next) != 1)
		goto ssl_fail;
	if (ledger_revoked_each(ca->ledger, add_revoked, &cb, err) != 0)
		goto out;
	if (cb.failed)
		goto ssl_fail;
	if (ledger_next_crl_number(ca->ledger, &number, err) != 0)
		goto out;
	num = ASN1_INTEGER_new();
	if (num == NULL || ASN1_INTEGER_set_uint64(num, number) != 1 ||
	    X509_CRL_add1_ext_i2d(cb.crl, NID_crl_number, num, 0, 0) != 1)
		goto ssl_fail;
	{
		const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca->cert);

		if (ski != NULL) {
			akid = AUTHORITY_KEYID_new();
			if (akid == NULL || (akid->keyid = ASN1_OCTET_STRING_dup(ski)) == NULL ||
			    X509_CRL_add1_ext_i2d(cb.crl, NID_authority_key_identifier, akid, 0, 0) != 1)
				goto ssl_fail;
		}
	}
	X509_CRL_sort(cb.crl);
	t0 = mono_now();
	if (X509_CRL_sign(cb.crl, signer_pkey(ca->signer), ca->md) <= 0) {
		signer_thread_error(err);
		ERR_clear_error();
		goto out;
	}
	metrics_observe(M_SIGN_SECONDS, "crl", mono_now() - t0);
	n = i2d_X509_CRL(cb.crl, NULL);
	if (n <= 0 || (der = malloc((size_t)n)) == NULL)
		goto ssl_fail;
	p = der;
	i2d_X509_CRL(cb.crl, &p);
	lc.number = number;
	lc.this_update = (long long)now;
	lc.next_update = (long long)now + (long long)ca->crl_hours * 3600;
	lc.mark = mark;
	/* a higher number published meanwhile by another signer wins there;
	 * this one is as complete and is served until the next look */
	if (ledger_crl_publish(ca->ledger, &lc, der, (size_t)n, &published, err) != 0)
		goto out;
	crl_cache(ca, der, (size_t)n, &lc, cb.listed);
	der = NULL;
	rc = 0;
	nlog_num(NLOG_INFO, "crl_signed", "crl_number", (long long)number, "published",
		 published ? "yes" : "no (a newer CRL is published)", NULL);
	goto out;
ssl_fail:
	nrfca_err_ssl(err, NRFCA_E_INTERNAL, "cannot build the CRL");
out:
	free(der);
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	X509_CRL_free(cb.crl);
	return rc;
}

int ca_crl_refresh(struct ca *ca, struct nrfca_err *err)
{
	int rc;

	pthread_mutex_lock(&ca->crl_mu);
	rc = crl_sign_locked(ca, err);
	pthread_mutex_unlock(&ca->crl_mu);
	return rc;
}

/* Re-sign when a quarter of the lifetime is left. */
static int crl_due(long long this_update, long long next_update, time_t now)
{
	return (long long)now >= next_update - (next_update - this_update) / 4;
}

/* Take the published CRL from the ledger into the cache.  crl_mu held. */
static int crl_fetch_locked(struct ca *ca, struct nrfca_err *err)
{
	struct ledger_crl lc;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509_CRL *crl;
	int rc, entries;

	rc = ledger_crl_get(ca->ledger, &lc, &der, &len, err);
	if (rc != 0)
		return rc < 0 ? -1 : nrfca_err_set(err, NRFCA_E_NOTFOUND, "no CRL is published");
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	if (crl == NULL || p != der + len) {
		X509_CRL_free(crl);
		free(der);
		return nrfca_err_ssl(err, NRFCA_E_DB, "the CRL published in the ledger does not "
				     "decode");
	}
	entries = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
	X509_CRL_free(crl);
	crl_cache(ca, der, len, &lc, entries > 0 ? entries : 0);
	return 0;
}

/* Make the cached CRL the one to serve: keep it while it lists every
 * revocation (its mark is the ledger's) and is not due; else take a newer
 * CRL another process published, if it is current; else sign one.  One
 * single-row read of the ledger when nothing changed.  With the ledger
 * unreachable, a cached CRL is served until its nextUpdate. */
static int crl_sync(struct ca *ca, struct nrfca_err *err)
{
	struct ledger_crl st;
	time_t now = time(NULL);
	int rc = 0;

	if (ledger_crl_state(ca->ledger, &st, err) != 0) {
		pthread_mutex_lock(&ca->crl_mu);
		rc = ca->crl_der != NULL && now < ca->crl_next ? 0 : -1;
		pthread_mutex_unlock(&ca->crl_mu);
		if (rc == 0)
			nlog(NLOG_WARN, "crl_state_unavailable", "detail", err->msg, "serving",
			     "the cached CRL", NULL);
		return rc;
	}
	pthread_mutex_lock(&ca->crl_mu);
	if (ca->crl_fresh_needed) {
		if (crl_sign_locked(ca, err) == 0) {
			ca->crl_fresh_needed = 0;
			goto out;
		}
		nlog(NLOG_WARN, "crl_refresh_failed", "detail", err->msg, "serving",
		     "the published CRL until a new one can be signed", NULL);
	}
	if (ca->crl_der != NULL && ca->crl_number >= st.number &&
	    ca->crl_mark == st.revocation_mark && !crl_due(ca->crl_this, ca->crl_next, now))
		goto out;
	if (st.number > ca->crl_number && st.mark == st.revocation_mark &&
	    !crl_due(st.this_update, st.next_update, now) && crl_fetch_locked(ca, err) == 0)
		goto out;
	rc = crl_sign_locked(ca, err);
out:
	pthread_mutex_unlock(&ca->crl_mu);
	return rc;
}

void ca_crl_fresh_at_start(struct ca *ca)
{
	pthread_mutex_lock(&ca->crl_mu);
	ca->crl_fresh_needed = 1;
	pthread_mutex_unlock(&ca->crl_mu);
}

void ca_crl_tick(struct ca *ca)
{
	struct nrfca_err e = { 0 };

	if (crl_sync(ca, &e) != 0)
		nlog(NLOG_WARN, "crl_refresh_failed", "detail", e.msg, NULL);
}

void ca_tick(struct ca *ca)
{
	ca_crl_tick(ca);
	reject_audit_tick(ca->rejects);
}

int ca_crl_der(struct ca *ca, unsigned char **der, size_t *len, struct nrfca_err *err)
{
	if (crl_sync(ca, err) != 0)
		return -1;
	pthread_mutex_lock(&ca->crl_mu);
	*der = malloc(ca->crl_len);
	if (*der == NULL) {
		pthread_mutex_unlock(&ca->crl_mu);
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	}
	memcpy(*der, ca->crl_der, ca->crl_len);
	*len = ca->crl_len;
	pthread_mutex_unlock(&ca->crl_mu);
	return 0;
}

void ca_crl_info(struct ca *ca, struct ca_crl_info *out)
{
	pthread_mutex_lock(&ca->crl_mu);
	out->this_update = ca->crl_der ? (long long)ca->crl_this : 0;
	out->next_update = ca->crl_der ? (long long)ca->crl_next : 0;
	out->number = ca->crl_number;
	out->entries = ca->crl_der ? ca->crl_revoked : 0;
	pthread_mutex_unlock(&ca->crl_mu);
}
