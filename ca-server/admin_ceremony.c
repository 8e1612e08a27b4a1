/* nrfca-admin init / import-chain / check: the key ceremony. */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

#include "ceremony.h"
#include "ledger.h"
#include "policy.h"
#include "signer.h"

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

const char admin_init_help[] =
	"usage: nrfca-admin [--config FILE] init [--curve P-256|P-384] [--subject DN]\n"
	"                   [--days N] [--pathlen N] [--csr-out FILE]\n\n"
	"Generates the CA key inside the token (non-extractable, signing only) and\n"
	"self-signs a root certificate into the configured ca.chain, or with\n"
	"--csr-out writes a CSR for an external root (then run import-chain).\n"
	"Refuses when the key or the chain exists already.\n\n"
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
	STACK_OF(X509) *chain = NULL;
	const char *csr_out = NULL;
	X509 *x = NULL;
	int curve = NID_X9_62_prime256v1, o, rc = 1;

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
	sc.uri = c->token_uri;
	sc.pin_env = c->token_pin_env;
	sc.allow_insecure_pin_file = c->token_allow_insecure_pin_file;
	sc.base_dir = c->dir;
	sc.env = (const char *const *)c->token_env;
	if (signer_generate_ec_key(&sc, curve, &e) != 0) {
		fprintf(stderr, "nrfca-admin init: %s\n", e.msg);
		return 1;
	}
	printf("generated the CA key (EC %s) in the token: sensitive, not extractable, "
	       "signing only\n", curve == NID_secp384r1 ? "P-384" : "P-256");
	s = admin_open_signer(c, &e);
	if (s == NULL) {
		fprintf(stderr, "nrfca-admin init: %s\n", e.msg);
		return 1;
	}
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
		X509_REQ_free(req);
		printf("wrote the CA certificate request to %s; have it signed, then run\n"
		       "  nrfca-admin import-chain CHAIN.pem\n", csr_out);
		rc = 0;
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
	rc = 0;
out:
	sk_X509_pop_free(chain, X509_free);
	signer_free(s);
	return rc;
}

const char admin_import_chain_help[] =
	"usage: nrfca-admin [--config FILE] import-chain CHAIN.pem\n\n"
	"Installs the CA certificate chain (CA certificate first, then its issuers)\n"
	"into the configured ca.chain after checking that it holds the token's key\n"
	"and that every link is valid now.\n";

int admin_import_chain(struct admin *a, int argc, char **argv)
{
	struct nrfca_err e = { 0 };
	STACK_OF(X509) *chain = NULL;
	struct nrfca_config *c;
	struct signer *s = NULL;
	const char *file;
	int rc = 1;

	if (admin_positional(a, argc, argv, 1) != 0)
		return 2;
	if (optind >= argc)
		return admin_usage_error(a, "needs the chain file CHAIN.pem");
	file = argv[optind];
	if ((c = admin_config(a)) == NULL)
		return 1;
	chain = ceremony_read_chain(file, &e);
	if (chain == NULL)
		goto fail;
	s = admin_open_signer(c, &e);
	if (s == NULL)
		goto fail;
	if (ceremony_check_chain(s, chain, time(NULL), &e) != 0)
		goto fail;
	if (ceremony_write_chain(c->ca_chain, chain, 0, &e) != 0)
		goto fail;
	printf("installed a chain of %d certificate(s) into %s\n", sk_X509_num(chain), c->ca_chain);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "nrfca-admin import-chain: %s\n", e.msg);
out:
	sk_X509_pop_free(chain, X509_free);
	signer_free(s);
	return rc;
}

#define CHECK_OK(...) do { printf("ok    "); printf(__VA_ARGS__); printf("\n"); } while (0)

const char admin_check_help[] =
	"usage: nrfca-admin [--config FILE] check\n\n"
	"Checks that the token answers, the CA key is present, sensitive and was\n"
	"never extractable, signs, and that the CA chain holds that key and is\n"
	"valid now; then the database and its audit chain, and the policy.\n"
	"Exit 0 when all hold, 1 with the reason otherwise.\n";

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

		if (ledger_open(c->database, &l, &e) != 0 || ledger_ping(l, &e) != 0) {
			ledger_close(l);
			goto fail;
		}
		r = ledger_audit_verify(l, &n, &broken, why, sizeof(why), &e);
		ledger_close(l);
		if (r < 0)
			goto fail;
		if (r == 1) {
			nrfca_err_set(&e, NRFCA_E_DB, "the audit chain breaks at entry %lld: %s",
				      broken, why);
			goto fail;
		}
		CHECK_OK("the database %s answers; its audit chain of %lld entries is intact",
			 c->database, n);
	}
	if (c->policy != NULL) {
		if (policy_check_file(c->policy, NULL, &e) != 0)
			goto fail;
		CHECK_OK("the policy %s loads", c->policy);
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
