/*
 * signer_test - integration test of the PKCS#11 signer against a private
 * SoftHSM2 token (made by run.sh): concurrent signing, recovery after the
 * token's files disappear and come back, and the PIN rules.
 *
 * usage: signer_test URI TOKENDIR copy|token [DELETE-COMMAND]
 *   copy: sign with the session copy of the key (the server's default); the
 *   test fails unless the copy is made and made again after recovery.
 *   token: sign with the token object.
 *   DELETE-COMMAND (a shell command): run at the end, it deletes the key
 *   object from the token; the signer must stop signing within 10 s.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "signer.h"

static int failures;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fprintf(stderr, "\n"); \
		failures++; \
	} \
} while (0)

static struct signer *sgn;

/* Sign random data through the EVP key (as X509_sign does) and verify it
 * with the public key alone. */
static int sign_and_verify(EVP_PKEY *pub)
{
	unsigned char msg[64], sig[256];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	int ok = 0;

	RAND_bytes(msg, sizeof(msg));
	if (EVP_DigestSignInit(mc, NULL, EVP_sha256(), NULL, signer_pkey(sgn)) == 1 &&
	    EVP_DigestSign(mc, sig, &siglen, msg, sizeof(msg)) == 1) {
		EVP_MD_CTX_free(mc);
		mc = EVP_MD_CTX_new();
		ok = EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, pub) == 1 &&
		     EVP_DigestVerify(mc, sig, siglen, msg, sizeof(msg)) == 1;
		if (!ok)
			ok = -1;   /* signed, but the signature does not verify */
	}
	ERR_clear_error();
	EVP_MD_CTX_free(mc);
	return ok;
}

/* X509_sign, X509_CRL_sign and OCSP_basic_sign all work with the token key. */
static int openssl_signers(EVP_PKEY *pub)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509_CRL *crl = X509_CRL_new();
	OCSP_BASICRESP *br = OCSP_BASICRESP_new();
	STACK_OF(X509) *certs = sk_X509_new_null();
	X509_STORE *st = X509_STORE_new();
	int ok = 0;

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pub);
	if (X509_sign(x, signer_pkey(sgn), EVP_sha256()) <= 0 || X509_verify(x, pub) != 1)
		goto out;
	X509_CRL_set_version(crl, X509_CRL_VERSION_2);
	X509_CRL_set_issuer_name(crl, n);
	if (X509_CRL_sign(crl, signer_pkey(sgn), EVP_sha256()) <= 0 || X509_CRL_verify(crl, pub) != 1)
		goto out;
	if (OCSP_basic_sign(br, x, signer_pkey(sgn), EVP_sha256(), NULL, OCSP_NOCERTS) != 1)
		goto out;
	sk_X509_push(certs, x);
	X509_STORE_add_cert(st, x);
	if (OCSP_basic_verify(br, certs, st, OCSP_TRUSTOTHER | OCSP_NOCHECKS) != 1)
		goto out;
	ok = 1;
out:
	if (!ok)
		ERR_print_errors_fp(stderr);
	ERR_clear_error();
	sk_X509_free(certs);
	X509_STORE_free(st);
	OCSP_BASICRESP_free(br);
	X509_CRL_free(crl);
	X509_NAME_free(n);
	X509_free(x);
	return ok;
}

struct worker {
	EVP_PKEY *pub;
	int n, good, bad, unverified;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	int i, r;

	for (i = 0; i < w->n; i++) {
		r = sign_and_verify(w->pub);
		if (r == 1)
			w->good++;
		else if (r < 0)
			w->unverified++;
		else
			w->bad++;
	}
	return NULL;
}

static EVP_PKEY *public_copy(EVP_PKEY *k)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	int n = i2d_PUBKEY(k, &der);

	p = der;
	pub = d2i_PUBKEY(NULL, &p, n);
	OPENSSL_free(der);
	return pub;
}

static int wait_ready(int want, int seconds)
{
	int i;

	for (i = 0; i < seconds * 20; i++) {
		if (signer_ready(sgn, NULL, 0) == want)
			return 1;
		usleep(50000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct signer_config sc = { 0 };
	struct nrfca_err e = { 0 };
	struct worker w[8];
	pthread_t t[8];
	EVP_PKEY *pub;
	char moved[4096], why[320];
	int i, r, total = 0;

	if ((argc != 4 && argc != 5) || (strcmp(argv[3], "copy") != 0 && strcmp(argv[3], "token") != 0)) {
		fprintf(stderr, "usage: signer_test URI TOKENDIR copy|token [DELETE-COMMAND]\n");
		return 2;
	}
	sc.uri = argv[1];
	sc.pool_size = 4;
	sc.session_copy = strcmp(argv[3], "copy") == 0;
	if (signer_open(&sc, &sgn, &e) != 0) {
		fprintf(stderr, "FAIL cannot open the signer: %s\n", e.msg);
		return 1;
	}
	{
		struct signer_stats st;

		signer_get_stats(sgn, &st);
		CHECK(st.session_copy == sc.session_copy, "signing with %s, want %s (%s)",
		      st.session_copy ? "a session copy" : "the token object", argv[3], st.copy_why);
		printf("signing with %s%s%s\n", st.session_copy ? "a session copy of the key" :
		       "the token object", st.copy_why[0] ? ": " : "", st.copy_why);
	}
	pub = public_copy(signer_pkey(sgn));
	CHECK(strcmp(signer_key_desc(sgn), "EC P-256") == 0, "key is %s", signer_key_desc(sgn));

	CHECK(openssl_signers(pub), "X509_sign / X509_CRL_sign / OCSP_basic_sign with the token key");
	printf("X509_sign, X509_CRL_sign and OCSP_basic_sign sign in the token and verify\n");

	/* 1. eight threads sign at once; every signature verifies */
	for (i = 0; i < 8; i++) {
		w[i] = (struct worker){ pub, 200, 0, 0, 0 };
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		CHECK(w[i].good == 200 && w[i].bad == 0 && w[i].unverified == 0,
		      "thread %d: %d good, %d failed, %d did not verify", i, w[i].good, w[i].bad,
		      w[i].unverified);
		total += w[i].good;
	}
	printf("concurrent: %d signatures from 8 threads over %u sessions, all verify\n", total,
	       sc.pool_size);

	/* 2. the token's files disappear: signing fails, the signer says not ready */
	snprintf(moved, sizeof(moved), "%s.away", argv[2]);
	CHECK(rename(argv[2], moved) == 0, "cannot move %s away", argv[2]);
	r = sign_and_verify(pub);
	if (r == 1) {
		/* SoftHSM may still hold the key in memory; the probe must notice */
		CHECK(wait_ready(0, 10), "signer still ready 10 s after the token files vanished");
	}
	CHECK(wait_ready(0, 10), "signer does not report not-ready while the token is gone");
	CHECK(signer_ready(sgn, why, sizeof(why)) == 0 && why[0] != '\0', "no reason given");
	printf("token gone: not ready (%s)\n", why);
	r = sign_and_verify(pub);
	CHECK(r == 0, "signing succeeded while the token was gone");
	signer_thread_error(&e);
	CHECK(e.code == NRFCA_E_TOKEN, "error while gone is '%s' (%s)", e.msg, nrfca_errc_name(e.code));
	printf("sign while gone: %s\n", e.msg);

	/* 3. the files come back: the signer recovers without a restart */
	CHECK(rename(moved, argv[2]) == 0, "cannot move the token back");
	CHECK(wait_ready(1, 15), "signer did not recover within 15 s after the token returned");
	r = sign_and_verify(pub);
	CHECK(r == 1, "signing after recovery failed");
	{
		struct signer_stats st;

		signer_get_stats(sgn, &st);
		CHECK(st.recoveries >= 1, "no recovery counted");
		CHECK(st.session_copy == sc.session_copy, "after recovery signing with %s (%s)",
		      st.session_copy ? "a session copy" : "the token object", st.copy_why);
		printf("recovered: %llu recoveries, %llu signatures, %llu failures\n", st.recoveries,
		       st.signs, st.sign_failures);
	}
	/* 4. the key object is deleted from the token (the token stays): the
	 * signer stops, whether it signs with the object or with its copy */
	if (argc == 5) {
		CHECK(system(argv[4]) == 0, "the delete command failed: %s", argv[4]);
		CHECK(wait_ready(0, 10), "signer still ready 10 s after its key left the token");
		r = sign_and_verify(pub);
		CHECK(r == 0, "signing succeeded after the key was deleted from the token");
		signer_ready(sgn, why, sizeof(why));
		printf("key deleted: not ready (%s)\n", why);
	}
	EVP_PKEY_free(pub);
	signer_free(sgn);
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("signer_test: all checks passed\n");
	return 0;
}
