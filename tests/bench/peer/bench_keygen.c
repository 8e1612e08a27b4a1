/*
 * bench_keygen - fresh modem-style enrollment requests for the peer
 * benchmark (tests/bench/run-bench-peer.sh).
 *
 *   bench_keygen --count N --identity-pub FILE --nrfca FILE --cfssl FILE
 *
 * Makes N distinct devices the way an nRF91 answers AT%KEYGEN=<tag>,2,0: a
 * random device UUID, a new P-256 key, the CSR with CN=<UUID> and the modem's
 * explicit-NULL signatureAlgorithm, and the COSE_Sign1 attestation over
 * [9, UUID, sec_tag, SHA-256(CSR), nonce] signed by one simulated identity
 * key (the simulator's own crypto, tests/sim/nrf91/sim_crypto.h).  Writes,
 * one JSON body per line and in the same order:
 *   --nrfca FILE  {"keygen": "<CSR>.<COSE>"}           for POST /v1/enroll
 *   --cfssl FILE  {"certificate_request": "<PEM>"}     for cfssl's /api/v1/cfssl/sign
 * so line k of both files carries the same CSR.  The identity public key
 * goes to --identity-pub (PEM) for the policy's identity_keys.
 * Exit 0, 1 on a crypto or file error, 2 on usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sim_buf.h"
#include "sim_crypto.h"

#define COUNT_MAX 2000000UL
#define SEC_TAG 16842753u   /* nRF Cloud's sec_tag */

/* The CSR as PEM inside a JSON string (lines end in an escaped \n). */
static void add_pem(struct sbuf *b, const uint8_t *der, size_t n)
{
	unsigned char line[65];
	size_t i;

	sbuf_adds(b, "-----BEGIN CERTIFICATE REQUEST-----\\n");
	for (i = 0; i < n; i += 48) {
		int k = EVP_EncodeBlock(line, der + i, (int)(n - i < 48 ? n - i : 48));

		sbuf_add(b, line, (size_t)k);
		sbuf_adds(b, "\\n");
	}
	sbuf_adds(b, "-----END CERTIFICATE REQUEST-----\\n");
}

/* One device: its nrfca and cfssl request bodies appended to the buffers. */
static int one_device(EVP_PKEY *id, struct sbuf *nrfca, struct sbuf *cfssl, struct nrfca_err *e)
{
	struct sbuf csr, cose;
	struct simc_rdn rdn;
	uint8_t uuid[16];
	char cn[37];
	EVP_PKEY *k = NULL;
	int rc = -1;

	sbuf_init(&csr, 0);
	sbuf_init(&cose, 0);
	if (RAND_bytes(uuid, sizeof(uuid)) != 1) {
		nrfca_err_set(e, NRFCA_E_CRYPTO, "no random bytes");
		goto out;
	}
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
	snprintf(cn, sizeof(cn),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7], uuid[8],
		 uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
	rdn.attr = SIMC_ATTR_CN;
	rdn.value = cn;
	rdn.len = strlen(cn);
	k = simc_p256_generate(e);
	if (k == NULL || simc_build_csr(k, &rdn, 1, 0x1 | 0x2 | 0x4 | 0x10, &csr, e) < 0 ||
	    simc_keygen_cose(id, uuid, SEC_TAG, true, csr.p, csr.len, &cose, e) < 0)
		goto out;
	sbuf_adds(nrfca, "{\"keygen\": \"");
	sbuf_addb64url(nrfca, csr.p, csr.len);
	sbuf_addc(nrfca, '.');
	sbuf_addb64url(nrfca, cose.p, cose.len);
	sbuf_adds(nrfca, "\"}\n");
	sbuf_adds(cfssl, "{\"certificate_request\": \"");
	add_pem(cfssl, csr.p, csr.len);
	sbuf_adds(cfssl, "\"}\n");
	if (nrfca->failed || cfssl->failed) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(k);
	sbuf_free(&csr);
	sbuf_free(&cose);
	return rc;
}

static int flush_to(FILE *f, struct sbuf *b)
{
	int ok = fwrite(b->p, 1, b->len, f) == b->len;

	sbuf_reset(b);
	return ok;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_keygen --count N --identity-pub FILE --nrfca FILE --cfssl FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *pub = NULL, *nrfca_path = NULL, *cfssl_path = NULL;
	unsigned long count = 0, i;
	struct nrfca_err e = { 0 };
	struct sbuf nb, cb;
	EVP_PKEY *id = NULL;
	FILE *nf = NULL, *cf = NULL;
	char *end;
	int a, rc = 1;

	for (a = 1; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--count") == 0) {
			count = strtoul(argv[a + 1], &end, 10);
			if (*end != '\0')
				usage();
		} else if (strcmp(argv[a], "--identity-pub") == 0) {
			pub = argv[a + 1];
		} else if (strcmp(argv[a], "--nrfca") == 0) {
			nrfca_path = argv[a + 1];
		} else if (strcmp(argv[a], "--cfssl") == 0) {
			cfssl_path = argv[a + 1];
		} else {
			usage();
		}
	}
	if (a != argc || count == 0 || count > COUNT_MAX || !pub || !nrfca_path || !cfssl_path)
		usage();
	sbuf_init(&nb, 0);
	sbuf_init(&cb, 0);
	if (simc_identity_load_or_create(NULL, &id, &e) < 0 || simc_write_pub_pem(id, pub, &e) < 0)
		goto out;
	nf = fopen(nrfca_path, "w");
	cf = fopen(cfssl_path, "w");
	if (nf == NULL || cf == NULL) {
		nrfca_err_set(&e, NRFCA_E_IO, "cannot create %s or %s", nrfca_path, cfssl_path);
		goto out;
	}
	for (i = 0; i < count; i++) {
		if (one_device(id, &nb, &cb, &e) != 0)
			goto out;
		if (nb.len > 256 * 1024 && (!flush_to(nf, &nb) || !flush_to(cf, &cb)))
			goto io_fail;
	}
	if (!flush_to(nf, &nb) || !flush_to(cf, &cb))
		goto io_fail;
	if (fclose(nf) != 0 || fclose(cf) != 0) {
		nf = cf = NULL;
		goto io_fail;
	}
	nf = cf = NULL;
	rc = 0;
	goto out;
io_fail:
	nrfca_err_set(&e, NRFCA_E_IO, "cannot write the request files");
out:
	if (rc != 0)
		fprintf(stderr, "bench_keygen: %s\n", e.msg);
	if (nf)
		fclose(nf);
	if (cf)
		fclose(cf);
	sbuf_free(&nb);
	sbuf_free(&cb);
	EVP_PKEY_free(id);
	return rc;
}
