/* nrfca-admin init / import-chain / check: the key ceremony. */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "b64url.h"
#include "ceremony.h"
#include "ledger.h"
#include "identity.h"
#include "policy.h"
#include "signer.h"
#include "timefmt.h"

struct signer *admin_open_signer(struct nrfca_config *c, struct nrfca_err *err)
{
	struct signer_config sc = { 0 };
	struct signer *s = NULL;

	sc.uri = c->token_uri;
	sc.pin_env = c->token_pin_env;
	sc.pool_size = 2;
	sc.allow_insecure_pin_file = c->token_allow_insecure_pin_file;
	sc.base_dir = c->dir;
	sc.env = (const char *const *)c->token_env;
	if (signer_open(&sc, &s, err) != 0)
		return NULL;
	return s;
}

/* ---- the ceremony's audit trail ---- */

/* The ledger the ceremony is audited in: opened before the token is touched,
 * so an unreachable database stops the ceremony before it starts.  *l NULL
 * with 0: no database configured (said on stderr, not audited). */
static int ceremony_ledger(struct admin *a, struct nrfca_config *c, struct ledger **l)
{
	*l = NULL;
	if (c->database == NULL) {
		fprintf(stderr, "%s: warning: %s names no database ($.database): this step is not "
			"recorded in an audit log\n", admin_cmd(a), c->path);
		return 0;
	}
	*l = admin_open_ledger(a);
	return *l == NULL ? -1 : 0;
}

/* Append an audit entry (detail is consumed).  0, or 1 after saying that
 * the step was done but not recorded. */
static int ceremony_audit(struct admin *a, struct ledger *l, const char *event, json_t *detail)
{
	struct nrfca_err e = { 0 };
	char *txt = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc = 0;

	json_decref(detail);
	if (l == NULL) {
		free(txt);
		return 0;
	}
	if (txt == NULL)
		nrfca_err_set(&e, NRFCA_E_NOMEM, "out of memory");
	if (txt == NULL || ledger_audit(l, admin_actor(), event, txt, &e) != 0)
		rc = admin_fail(a, "done, but NOT recorded in the audit log (%s): %s", event, e.msg);
	free(txt);
	return rc;
}

static void sha256_hex(const unsigned char *d, size_t n, char hex[65])
{
	unsigned char md[32];

	SHA256(d, n, md);
	nrfca_hex_encode(md, sizeof(md), hex);
}

/* SHA-256 of the DER SubjectPublicKeyInfo: names the CA key in the log. */
static json_t *key_json(struct signer *s)
{
	unsigned char *der = NULL;
	char hex[65];
	int n = i2d_PUBKEY(signer_pkey(s), &der);

	if (n <= 0)
		return json_null();
	sha256_hex(der, (size_t)n, hex);
	OPENSSL_free(der);
	return json_pack("{s:s, s:s}", "type", signer_key_desc(s), "spki_sha256", hex);
}

static json_t *cert_json(X509 *x)
{
	unsigned char *der = NULL;
	char hex[65], subj[512] = "", na[NRFCA_TIME_ISO_LEN] = "";
	BIO *b = BIO_new(BIO_s_mem());
	struct tm tm;
	char *data;
	long k;
	int n = i2d_X509(x, &der);

	if (n <= 0) {
		BIO_free(b);
		return json_null();
	}
	sha256_hex(der, (size_t)n, hex);
	OPENSSL_free(der);
	if (b != NULL && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
		k = BIO_get_mem_data(b, &data);
		snprintf(subj, sizeof(subj), "%.*s", (int)k, data);
	}
	BIO_free(b);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		nrfca_time_iso((long long)timegm(&tm), na);
	return json_pack("{s:s, s:s, s:s}", "subject", subj, "sha256", hex, "not_after", na);
}

static json_t *chain_json(STACK_OF(X509) *chain)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; arr != NULL && chain != NULL && i < sk_X509_num(chain); i++)
		json_array_append_new(arr, cert_json(sk_X509_value(chain, i)));
	return arr;
}

/* 1 when both chains hold the same certificates in the same order. */
static int same_chain(STACK_OF(X509) *a, STACK_OF(X509) *b)
{
	int i;

	if (sk_X509_num(a) != sk_X509_num(b))
		return 0;
	for (i = 0; i < sk_X509_num(a); i++)
		if (X509_cmp(sk_X509_value(a, i), sk_X509_value(b, i)) != 0)
			return 0;
	return 1;
}

const char admin_init_help[] =
	"usage: nrfca-admin [--config FILE] init [--curve P-256|P-384] [--subject DN]\n"
	"                   [--days N] [--pathlen N] [--csr-out FILE]\n\n"
	"Generates the CA key inside the token (non-extractable, signing only) and\n"
	"self-signs a root certificate into the configured ca.chain, or with\n"
	"--csr-out writes a CSR for an external root (then run import-chain).\n"
	"Refuses when the key or the chain exists already.  Each step is audited\n"
	"(ceremony_key, ceremony_root or ceremony_csr) in the configured database.\n\n"
	"  --curve P-256|P-384  the key's curve, default P-256\n"
	"  --subject DN         the CA's name, default 'CN=nrfca root CA'\n"
	"  --days N             root validity in days, 1 to 36500, default 7300\n"
	"  --pathlen N          pathLenConstraint 0 to 16 (default: none)\n"
	"  --csr-out FILE       write a CSR for an external root instead of a root\n";

/* a whole decimal number in [min, max], else -1 after explaining --opt */
static int int_option(struct admin *a, const char *opt, const char *v, int min, int max, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > max) {
		admin_usage_error(a, "%s '%s' must be a whole number from %d to %d", opt, v, min,
				  max);
		return -1;
	}
	*out = (int)n;
	return 0;
}

int admin_init(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "curve", required_argument, NULL, 'c' },
		{ "subject", required_argument, NULL, 's' },
		{ "days", required_argument, NULL, 'd' },
		{ "pathlen", required_argument, NULL, 'p' },
		{ "csr-out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct ceremony_root r = { "CN=nrfca root CA", 7300, -1 };
	struct signer_config sc = { 0 };
	struct nrfca_err e = { 0 };
	struct nrfca_config *c;
	struct signer *s = NULL;
	struct ledger *l = NULL;
	STACK_OF(X509) *chain = NULL;
	const char *csr_out = NULL;
	X509 *x = NULL;
	int curve = NID_X9_62_prime256v1, o, rc = 1, unaudited = 0;

	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		switch (o) {
		case 'c':
			if (strcmp(optarg, "P-256") == 0 || strcmp(optarg, "p256") == 0)
				curve = NID_X9_62_prime256v1;
			else if (strcmp(optarg, "P-384") == 0 || strcmp(optarg, "p384") == 0)
				curve = NID_secp384r1;
			else
				return admin_usage_error(a, "--curve '%s' is not supported; use P-256 "
							 "or P-384", optarg);
			break;
		case 's':
			r.subject = optarg;
			break;
		case 'd':
			if (int_option(a, "--days", optarg, 1, 36500, &r.days) != 0)
				return 2;
			break;
		case 'p':
			if (int_option(a, "--pathlen", optarg, 0, 16, &r.pathlen) != 0)
				return 2;
			break;
		case 'o':
			csr_out = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	/* validate the subject before touching the token */
	{
		X509_NAME *n = ceremony_parse_subject(r.subject, &e);

		if (n == NULL)
			return admin_usage_error(a, "--subject: %s", e.msg);
		X509_NAME_free(n);
	}
	if ((c = admin_config(a)) == NULL)
		return 1;
	if (csr_out == NULL && access(c->ca_chain, F_OK) == 0) {
		fprintf(stderr, "nrfca-admin init: the CA chain %s exists already; refusing to "
			"replace it (the ceremony runs once)\n", c->ca_chain);
		return 1;
	}
	if (ceremony_ledger(a, c, &l) != 0)
		return 1;
	sc.uri = c->token_uri;
	sc.pin_env = c->token_pin_env;
	sc.allow_insecure_pin_file = c->token_allow_insecure_pin_file;
	sc.base_dir = c->dir;
	sc.env = (const char *const *)c->token_env;
	if (signer_generate_ec_key(&sc, curve, &e) != 0) {
		fprintf(stderr, "nrfca-admin init: %s\n", e.msg);
		goto out;
	}
	printf("generated the CA key (EC %s) in the token: sensitive, not extractable, "
	       "signing only\n", curve == NID_secp384r1 ? "P-384" : "P-256");
	s = admin_open_signer(c, &e);
	if (s == NULL) {
		fprintf(stderr, "nrfca-admin init: %s\n", e.msg);
		goto out;
	}
	/* a failed audit append is reported and makes the exit status 1, but
	 * never leaves a half-made ceremony behind */
	unaudited |= ceremony_audit(a, l, "ceremony_key", json_pack("{s:o, s:s}", "key",
								   key_json(s), "token_uri",
								   c->token_uri));
	if (csr_out != NULL) {
		X509_REQ *req = ceremony_csr(s, &r, &e);
		FILE *f;

		if (req == NULL) {
			fprintf(stderr, "nrfca-admin init: %s\n", e.msg);
			goto out;
		}
		f = fopen(csr_out, "wx");
		if (f == NULL || PEM_write_X509_REQ(f, req) != 1) {
			fprintf(stderr, "nrfca-admin init: cannot write %s (it must not exist yet)\n",
				csr_out);
			if (f)
				fclose(f);
			X509_REQ_free(req);
			goto out;
		}
		fclose(f);
		{
			unsigned char *der = NULL;
			int n = i2d_X509_REQ(req, &der);
			char hex[65] = "";

			if (n > 0)
				sha256_hex(der, (size_t)n, hex);
			OPENSSL_free(der);
			X509_REQ_free(req);
			unaudited |= ceremony_audit(a, l, "ceremony_csr", json_pack(
				"{s:s, s:s, s:s, s:o}", "subject", r.subject, "csr_sha256", hex, "file",
				csr_out, "key", key_json(s)));
		}
		printf("wrote the CA certificate request to %s; have it signed, then run\n"
		       "  nrfca-admin import-chain CHAIN.pem\n", csr_out);
		rc = unaudited;
		goto out;
	}
	x = ceremony_self_signed(s, &r, &e);
	if (x == NULL) {
		fprintf(stderr, "nrfca-admin init: %s\n", e.msg);
		goto out;
	}
	chain = sk_X509_new_null();
	if (chain == NULL || sk_X509_push(chain, x) == 0) {
		X509_free(x);
		goto out;
	}
	if (ceremony_write_chain(c->ca_chain, chain, 1, &e) != 0) {
		fprintf(stderr, "nrfca-admin init: %s\n", e.msg);
		goto out;
	}
	printf("wrote the self-signed root certificate (%s, %d days) to %s\n", r.subject, r.days,
	       c->ca_chain);
	unaudited |= ceremony_audit(a, l, "ceremony_root", json_pack("{s:o, s:s, s:i, s:o}",
				    "certificate", cert_json(x), "chain_file", c->ca_chain, "days",
				    r.days, "key", key_json(s)));
	rc = unaudited;
out:
	sk_X509_pop_free(chain, X509_free);
	signer_free(s);
	ledger_close(l);
	return rc;
}

const char admin_import_chain_help[] =
	"usage: nrfca-admin [--config FILE] import-chain [--force] CHAIN.pem\n\n"
	"Installs the CA certificate chain (CA certificate first, then its issuers)\n"
	"into the configured ca.chain after checking that it holds the token's key\n"
	"and that every link is valid now.  An installed chain that differs is\n"
	"replaced only with --force (the same chain again changes nothing).\n"
	"Audited as chain_import, naming the certificates installed and replaced.\n"
	"A running nrfca-server uses the new chain after a restart.\n\n"
	"  --force  replace an installed chain that differs\n";

int admin_import_chain(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct nrfca_err e = { 0 };
	STACK_OF(X509) *chain = NULL, *old = NULL;
	struct nrfca_config *c;
	struct signer *s = NULL;
	struct ledger *l = NULL;
	const char *file;
	int o, force = 0, rc = 1;

	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		if (o != 'f')
			return 2;
		force = 1;
	}
	if (optind >= argc)
		return admin_usage_error(a, "needs the chain file CHAIN.pem");
	if (optind + 1 < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind + 1]);
	file = argv[optind];
	if ((c = admin_config(a)) == NULL)
		return 1;
	chain = ceremony_read_chain(file, &e);
	if (chain == NULL)
		goto fail;
	/* the new chain first: a wrong one is refused for what is wrong with it */
	s = admin_open_signer(c, &e);
	if (s == NULL)
		goto fail;
	if (ceremony_check_chain(s, chain, time(NULL), &e) != 0)
		goto fail;
	if (access(c->ca_chain, F_OK) == 0) {
		old = ceremony_read_chain(c->ca_chain, &e);
		if (old == NULL && !force) {
			nrfca_err_prefix(&e, "the installed chain cannot be read (--force replaces it)");
			goto fail;
		}
	}
	if (old != NULL && same_chain(old, chain)) {
		printf("the chain in %s is installed already (%d certificate(s)); nothing changed\n",
		       file, sk_X509_num(chain));
		rc = 0;
		goto out;
	}
	if (old != NULL && !force) {
		char name[256];

		X509_NAME_oneline(X509_get_subject_name(sk_X509_value(old, 0)), name, sizeof(name));
		nrfca_err_set(&e, NRFCA_E_EXISTS, "%s holds an installed chain of %d certificate(s) "
			      "(%s) that differs from the %d in %s; refusing to replace it without "
			      "--force", c->ca_chain, sk_X509_num(old), name, sk_X509_num(chain), file);
		goto fail;
	}
	if (ceremony_ledger(a, c, &l) != 0)
		goto out;
	if (ceremony_write_chain(c->ca_chain, chain, 0, &e) != 0)
		goto fail;
	printf("installed a chain of %d certificate(s) into %s%s\n", sk_X509_num(chain),
	       c->ca_chain, old != NULL ? ", replacing the one installed (--force)" : "");
	if (ceremony_audit(a, l, "chain_import", json_pack("{s:s, s:s, s:o, s:o, s:b, s:o}",
			   "file", file, "chain_file", c->ca_chain, "installed", chain_json(chain),
			   "replaced", chain_json(old), "forced", force && old != NULL, "key",
			   key_json(s))) != 0)
		goto out;
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "nrfca-admin import-chain: %s\n", e.msg);
out:
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(old, X509_free);
	signer_free(s);
	ledger_close(l);
	return rc;
}

#define CHECK_OK(...) do { printf("ok    "); printf(__VA_ARGS__); printf("\n"); } while (0)

const char admin_check_help[] =
	"usage: nrfca-admin [--config FILE] check\n\n"
	"Checks that the token answers, the CA key is present, sensitive and was\n"
	"never extractable, signs, and that the CA chain holds that key and is\n"
	"valid now; then the database and its audit chain, and the policy.\n"
	"Exit 0 when all hold, 1 with the reason otherwise.\n";

/* The settings the server would open the Identity Service client with
 * (nothing is sent to the service). */
static int identity_settings_ok(const struct nrfca_config *c, struct nrfca_err *e)
{
	struct identity_config ic = {
		.url = c->identity_url,
		.api_key_file = c->identity_api_key_file,
		.allow_insecure_key_file = c->identity_allow_insecure_key_file,
		.ca_file = c->identity_ca_file,
		.timeout_ms = (unsigned)c->identity_timeout_ms,
		.cache_entries = (unsigned)c->identity_cache_entries,
		.cache_seconds = (unsigned)c->identity_cache_seconds,
		.backoff_seconds = (unsigned)c->identity_backoff_seconds,
	};
	struct identity *id = NULL;

	if (c->identity_url == NULL)
		return nrfca_err_set(e, NRFCA_E_CONFIG, "the policy asks nRF Cloud's Identity Service "
				     "(attestation.verify_with) but %s has no identity_service", c->path);
	if (identity_open(&ic, &id, e) != 0)
		return -1;
	identity_free(id);
	return 0;
}

int admin_check(struct admin *a, int argc, char **argv)
{
	struct nrfca_err e = { 0 };
	struct signer_key_info ki;
	struct nrfca_config *c;
	STACK_OF(X509) *chain = NULL;
	struct signer *s = NULL;
	unsigned char dgst[32] = { 1 }, sig[256];
	size_t siglen = sizeof(sig);
	EVP_PKEY_CTX *ctx = NULL;
	int rc = 1;

	if (admin_positional(a, argc, argv, 0) != 0)
		return 2;
	if ((c = admin_config(a)) == NULL)
		return 1;
	s = admin_open_signer(c, &e);
	if (s == NULL)
		goto fail;
	if (signer_key_info(s, &ki, &e) != 0)
		goto fail;
	CHECK_OK("token '%s' (serial %s) answers; key '%s' is %s", ki.token_label, ki.token_serial,
		 ki.label, signer_key_desc(s));
	if (!ki.sensitive || ki.extractable || !ki.never_extractable || !ki.always_sensitive) {
		nrfca_err_set(&e, NRFCA_E_CONFIG,
			      "the CA key is not protected: sensitive=%d extractable=%d "
			      "always_sensitive=%d never_extractable=%d", ki.sensitive, ki.extractable,
			      ki.always_sensitive, ki.never_extractable);
		goto fail;
	}
	CHECK_OK("the key is sensitive and has never been extractable");
	if (!ki.can_sign || ki.can_decrypt || ki.can_unwrap || ki.can_derive) {
		nrfca_err_set(&e, NRFCA_E_CONFIG,
			      "the CA key must be for signing only: sign=%d decrypt=%d unwrap=%d "
			      "derive=%d", ki.can_sign, ki.can_decrypt, ki.can_unwrap, ki.can_derive);
		goto fail;
	}
	CHECK_OK("the key signs and cannot decrypt, unwrap or derive");
	ctx = EVP_PKEY_CTX_new(signer_pkey(s), NULL);
	if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_sign(ctx, sig, &siglen, dgst, sizeof(dgst)) != 1) {
		signer_thread_error(&e);
		ERR_clear_error();
		goto fail;
	}
	EVP_PKEY_CTX_free(ctx);
	ctx = EVP_PKEY_CTX_new(signer_pkey(s), NULL);
	if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_verify(ctx, sig, siglen, dgst, sizeof(dgst)) != 1) {
		nrfca_err_ssl(&e, NRFCA_E_CRYPTO, "a test signature made in the token does not verify");
		goto fail;
	}
	CHECK_OK("a test signature made in the token verifies");
	chain = ceremony_read_chain(c->ca_chain, &e);
	if (chain == NULL)
		goto fail;
	if (ceremony_check_chain(s, chain, time(NULL), &e) != 0)
		goto fail;
	{
		char name[256];

		X509_NAME_oneline(X509_get_subject_name(sk_X509_value(chain, 0)), name, sizeof(name));
		CHECK_OK("the CA chain %s (%d certificate(s), %s) holds the token key and is valid now",
			 c->ca_chain, sk_X509_num(chain), name);
	}
	if (c->database != NULL) {
		struct ledger *l = NULL;
		long long n = 0, broken = 0;
		char why[256];
		int r;

		struct ledger_config lc;
		struct ledger_info info;

		admin_ledger_config(c, &lc);
		if (ledger_open_cfg(c->database, &lc, &l, &e) != 0 || ledger_ping(l, &e) != 0 ||
		    ledger_info(l, &info, &e) != 0) {
			ledger_close(l);
			goto fail;
		}
		CHECK_OK("the ledger: %s, schema version %d, %s", info.engine, info.schema_version,
			 info.connection);
		r = ledger_audit_verify(l, &n, &broken, why, sizeof(why), &e);
		ledger_close(l);
		if (r < 0)
			goto fail;
		if (r == 1) {
			nrfca_err_set(&e, NRFCA_E_DB, "the audit chain breaks at entry %lld: %s",
				      broken, why);
			goto fail;
		}
		CHECK_OK("the ledger answers; its audit chain of %lld entries is intact", n);
	}
	if (c->policy != NULL) {
		struct nrfca_policy *pol = NULL;
		int uses;

		if (policy_check_file(c->policy, NULL, &e) != 0 ||
		    nrfca_policy_load_file(c->policy, &pol, &e) != 0)
			goto fail;
		uses = nrfca_policy_uses_identity_service(pol);
		nrfca_policy_unref(pol);
		CHECK_OK("the policy %s loads", c->policy);
		if (uses && identity_settings_ok(c, &e) != 0)
			goto fail;
		if (uses)
			CHECK_OK("nRF Cloud's Identity Service is configured (%s, API key file %s)",
				 c->identity_url, c->identity_api_key_file);
	}
	rc = 0;
	goto out;
fail:
	printf("FAIL  %s\n", e.msg);
	fprintf(stderr, "nrfca-admin check: %s\n", e.msg);
out:
	EVP_PKEY_CTX_free(ctx);
	sk_X509_pop_free(chain, X509_free);
	signer_free(s);
	return rc;
}
