#include "sim_crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "sim_enc.h"

const uint8_t simc_sigalg_ecdsa_sha256_null[14] = {
	0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x05, 0x00,
};

static const uint8_t oid_ext_request[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
					   0x0d, 0x01, 0x09, 0x0e };
static const uint8_t oid_key_usage[] = { 0x06, 0x03, 0x55, 0x1d, 0x0f };

static const struct {
	const char *name;
	uint8_t oid_last; /* 2.5.4.<n> */
} attr_tab[SIMC_ATTR_MAX] = {
	[SIMC_ATTR_C] = { "C", 6 },   [SIMC_ATTR_ST] = { "ST", 8 },
	[SIMC_ATTR_L] = { "L", 7 },   [SIMC_ATTR_O] = { "O", 10 },
	[SIMC_ATTR_OU] = { "OU", 11 }, [SIMC_ATTR_CN] = { "CN", 3 },
};

int simc_attr_from_name(const char *name, size_t n)
{
	int i;

	for (i = 0; i < SIMC_ATTR_MAX; i++)
		if (strlen(attr_tab[i].name) == n && strncasecmp(attr_tab[i].name, name, n) == 0)
			return i;
	return -1;
}

EVP_PKEY *simc_p256_generate(struct nrfca_err *e)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	if (k == NULL)
		nrfca_err_ssl(e, NRFCA_E_CRYPTO, "cannot generate a P-256 key");
	return k;
}

static bool is_p256(EVP_PKEY *k)
{
	char g[64];
	size_t gl = 0;

	if (!EVP_PKEY_is_a(k, "EC"))
		return false;
	if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, g, sizeof(g), &gl))
		return false;
	return strcmp(g, "prime256v1") == 0 || strcmp(g, "P-256") == 0;
}

EVP_PKEY *simc_priv_from_pem(const uint8_t *pem, size_t n)
{
	BIO *bio;
	EVP_PKEY *k = NULL;

	if (n > 16384)
		return NULL;
	bio = BIO_new_mem_buf(pem, (int)n);
	if (bio == NULL)
		return NULL;
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return k;
}

int simc_identity_load_or_create(const char *path, EVP_PKEY **out, struct nrfca_err *e)
{
	EVP_PKEY *k = NULL;
	FILE *f = NULL;
	int fd = -1, rc = -1;

	if (path != NULL) {
		f = fopen(path, "r");
		if (f != NULL) {
			k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
			if (k == NULL) {
				nrfca_err_ssl(e, NRFCA_E_INPUT,
					      "identity key file %s holds no readable PEM private key",
					      path);
				goto out;
			}
			if (!is_p256(k)) {
				nrfca_err_set(e, NRFCA_E_INPUT,
					      "identity key in %s is not an EC P-256 key", path);
				goto out;
			}
			*out = k;
			k = NULL;
			rc = 0;
			goto out;
		}
		if (errno != ENOENT) {
			nrfca_err_set(e, NRFCA_E_IO, "cannot open identity key file %s: %s", path,
				      strerror(errno));
			goto out;
		}
	}
	k = simc_p256_generate(e);
	if (k == NULL)
		goto out;
	if (path != NULL) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
		if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
			nrfca_err_set(e, NRFCA_E_IO, "cannot create identity key file %s: %s", path,
				      strerror(errno));
			goto out;
		}
		fd = -1;
		if (!PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) || fflush(f) != 0) {
			nrfca_err_ssl(e, NRFCA_E_IO, "cannot write identity key file %s", path);
			goto out;
		}
	}
	*out = k;
	k = NULL;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (f != NULL)
		fclose(f);
	EVP_PKEY_free(k);
	return rc;
}

static int bio_to_sbuf(BIO *bio, struct sbuf *out, struct nrfca_err *e)
{
	char *p = NULL;
	long n = BIO_get_mem_data(bio, &p);

	if (n <= 0)
		return nrfca_err_set(e, NRFCA_E_INTERNAL, "empty PEM output");
	sbuf_add(out, p, (size_t)n);
	sbuf_addc(out, 0);
	if (out->failed)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory for PEM text");
	out->len--;
	return 0;
}

int simc_pub_pem(EVP_PKEY *k, struct sbuf *out, struct nrfca_err *e)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc = -1;

	if (bio == NULL || !PEM_write_bio_PUBKEY(bio, k)) {
		nrfca_err_ssl(e, NRFCA_E_CRYPTO, "cannot encode a public key as PEM");
		goto out;
	}
	rc = bio_to_sbuf(bio, out, e);
out:
	BIO_free(bio);
	return rc;
}

int simc_priv_pem(EVP_PKEY *k, struct sbuf *out, struct nrfca_err *e)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	int rc = -1;

	if (bio == NULL || !PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)) {
		nrfca_err_ssl(e, NRFCA_E_CRYPTO, "cannot encode a private key as PEM");
		goto out;
	}
	rc = bio_to_sbuf(bio, out, e);
out:
	BIO_free(bio);
	return rc;
}

int simc_write_pub_pem(EVP_PKEY *k, const char *path, struct nrfca_err *e)
{
	struct sbuf b;
	FILE *f = NULL;
	int rc = -1;

	sbuf_init(&b, 0);
	if (simc_pub_pem(k, &b, e) < 0)
		goto out;
	f = fopen(path, "w");
	if (f == NULL || fwrite(b.p, 1, b.len, f) != b.len) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot write public key file %s: %s", path,
			      strerror(errno));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		nrfca_err_set(e, NRFCA_E_IO, "cannot write public key file %s", path);
		goto out;
	}
	f = NULL;
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	sbuf_free(&b);
	return rc;
}

int simc_priv_der(EVP_PKEY *k, struct sbuf *out, struct nrfca_err *e)
{
	unsigned char *der = NULL;
	int n = i2d_PrivateKey(k, &der);

	if (n <= 0)
		return nrfca_err_ssl(e, NRFCA_E_CRYPTO, "cannot encode a private key as DER");
	sbuf_add(out, der, (size_t)n);
	OPENSSL_clear_free(der, (size_t)n);
	if (out->failed)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory for a key");
	return 0;
}

int simc_spki_der(EVP_PKEY *k, struct sbuf *out, struct nrfca_err *e)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);

	if (n <= 0)
		return nrfca_err_ssl(e, NRFCA_E_CRYPTO, "cannot encode a public key as DER");
	sbuf_add(out, der, (size_t)n);
	OPENSSL_free(der);
	if (out->failed)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory for a public key");
	return 0;
}

static int sign_der(EVP_PKEY *k, const uint8_t *msg, size_t n, uint8_t *sig, size_t *siglen,
		    struct nrfca_err *e)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if (ctx == NULL || EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, k, NULL) != 1 ||
	    EVP_DigestSign(ctx, sig, siglen, msg, n) != 1) {
		nrfca_err_ssl(e, NRFCA_E_CRYPTO, "ECDSA signing failed");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

static int sign_raw(EVP_PKEY *k, const uint8_t *msg, size_t n, uint8_t rs[64],
		    struct nrfca_err *e)
{
	uint8_t der[80];
	size_t dl = sizeof(der);
	const unsigned char *p = der;
	ECDSA_SIG *s = NULL;
	const BIGNUM *r, *sv;
	int rc = -1;

	if (sign_der(k, msg, n, der, &dl, e) < 0)
		return -1;
	s = d2i_ECDSA_SIG(NULL, &p, (long)dl);
	if (s == NULL) {
		nrfca_err_ssl(e, NRFCA_E_CRYPTO, "cannot decode an ECDSA signature");
		goto out;
	}
	ECDSA_SIG_get0(s, &r, &sv);
	if (BN_bn2binpad(r, rs, 32) != 32 || BN_bn2binpad(sv, rs + 32, 32) != 32) {
		nrfca_err_set(e, NRFCA_E_CRYPTO, "ECDSA signature value does not fit 32 bytes");
		goto out;
	}
	rc = 0;
out:
	ECDSA_SIG_free(s);
	return rc;
}

static void add_name(struct sbuf *name, const struct simc_rdn *rdn, size_t nrdn)
{
	struct sbuf atv, set, seq;
	uint8_t oid[5] = { 0x06, 0x03, 0x55, 0x04, 0 };
	size_t i;

	sbuf_init(&seq, 0);
	for (i = 0; i < nrdn; i++) {
		sbuf_init(&atv, 0);
		sbuf_init(&set, 0);
		oid[4] = attr_tab[rdn[i].attr].oid_last;
		sbuf_add(&atv, oid, sizeof(oid));
		der_tlv(&atv, DER_UTF8STRING, (const uint8_t *)rdn[i].value, rdn[i].len);
		der_wrap(&set, DER_SEQUENCE, &atv);
		der_wrap(&seq, DER_SET, &set);
		sbuf_free(&atv);
		sbuf_free(&set);
	}
	der_wrap(name, DER_SEQUENCE, &seq);
	sbuf_free(&seq);
}

/* KeyUsage BIT STRING in DER: named bits, trailing zero bits removed. */
static void add_key_usage(struct sbuf *b, uint16_t bits)
{
	uint8_t v[3] = { 0, 0, 0 };
	int hi = -1, i;
	size_t nbytes;

	for (i = 0; i < 9; i++) {
		if (bits & (1u << i)) {
			v[1 + i / 8] |= (uint8_t)(0x80 >> (i % 8));
			hi = i;
		}
	}
	nbytes = (size_t)(hi / 8 + 1);
	v[0] = (uint8_t)(7 - hi % 8);
	der_tlv(b, DER_BITSTRING, v, 1 + nbytes);
}

int simc_build_csr(EVP_PKEY *k, const struct simc_rdn *rdn, size_t nrdn,
		   uint16_t key_usage, struct sbuf *out, struct nrfca_err *e)
{
	struct sbuf cri, body, ku, ext, exts, attr, attrs, set, tmp, outer;
	uint8_t sig[80];
	size_t sl = sizeof(sig);
	int rc = -1;
	static const uint8_t version0[] = { 0x02, 0x01, 0x00 };

	if (key_usage == 0 || key_usage >= (1u << 9))
		return nrfca_err_set(e, NRFCA_E_INPUT, "key usage must set one of bits 0..8");
	sbuf_init(&cri, 0);
	sbuf_init(&body, 0);
	sbuf_init(&ku, 0);
	sbuf_init(&ext, 0);
	sbuf_init(&exts, 0);
	sbuf_init(&attr, 0);
	sbuf_init(&attrs, 0);
	sbuf_init(&set, 0);
	sbuf_init(&tmp, 0);
	sbuf_init(&outer, 0);

	sbuf_add(&body, version0, sizeof(version0));
	add_name(&body, rdn, nrdn);
	if (simc_spki_der(k, &body, e) < 0)
		goto out;
	/* Extension { keyUsage, OCTET STRING { BIT STRING } } (not critical) */
	add_key_usage(&ku, key_usage);
	sbuf_add(&ext, oid_key_usage, sizeof(oid_key_usage));
	der_wrap(&ext, DER_OCTETSTRING, &ku);
	der_wrap(&tmp, DER_SEQUENCE, &ext);   /* Extension */
	der_wrap(&exts, DER_SEQUENCE, &tmp);  /* Extensions */
	der_wrap(&set, DER_SET, &exts);
	sbuf_add(&attr, oid_ext_request, sizeof(oid_ext_request));
	sbuf_add(&attr, set.p, set.len);
	sbuf_reset(&tmp);
	der_wrap(&tmp, DER_SEQUENCE, &attr);  /* Attribute */
	der_wrap(&body, DER_CTX0_CONS, &tmp); /* [0] IMPLICIT SET OF Attribute */
	der_wrap(&cri, DER_SEQUENCE, &body);
	if (cri.failed) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory building a CSR");
		goto out;
	}
	if (sign_der(k, cri.p, cri.len, sig, &sl, e) < 0)
		goto out;
	sbuf_add(&outer, cri.p, cri.len);
	sbuf_add(&outer, simc_sigalg_ecdsa_sha256_null, sizeof(simc_sigalg_ecdsa_sha256_null));
	sbuf_reset(&tmp);
	sbuf_addc(&tmp, 0); /* no unused bits */
	sbuf_add(&tmp, sig, sl);
	der_wrap(&outer, DER_BITSTRING, &tmp);
	der_wrap(out, DER_SEQUENCE, &outer);
	if (out->failed) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory building a CSR");
		goto out;
	}
	rc = 0;
out:
	sbuf_free(&cri);
	sbuf_free(&body);
	sbuf_free(&ku);
	sbuf_free(&ext);
	sbuf_free(&exts);
	sbuf_free(&attr);
	sbuf_free(&attrs);
	sbuf_free(&set);
	sbuf_free(&tmp);
	sbuf_free(&outer);
	return rc;
}

int simc_cose_sign1(EVP_PKEY *id, const uint8_t *payload, size_t n, bool detached,
		    struct sbuf *out, struct nrfca_err *e)
{
	static const uint8_t prot[] = { 0xa1, 0x01, 0x26 };   /* {1: -7} */
	static const uint8_t unprot[] = { 0xa1, 0x04, 0x41, 0x21 }; /* {4: h'21'} */
	struct sbuf tbs;
	uint8_t rs[64];
	int rc = -1;

	sbuf_init(&tbs, 0);
	/* Sig_structure = ["Signature1", protected, external_aad, payload] */
	cbor_head(&tbs, CBOR_ARRAY, 4);
	cbor_tstr(&tbs, "Signature1");
	cbor_bstr(&tbs, prot, sizeof(prot));
	cbor_bstr(&tbs, NULL, 0);
	cbor_bstr(&tbs, payload, n);
	if (tbs.failed) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory building Sig_structure");
		goto out;
	}
	if (sign_raw(id, tbs.p, tbs.len, rs, e) < 0)
		goto out;
	cbor_head(out, CBOR_TAG, 18);
	cbor_head(out, CBOR_ARRAY, 4);
	cbor_bstr(out, prot, sizeof(prot));
	sbuf_add(out, unprot, sizeof(unprot));
	if (detached)
		cbor_null(out);
	else
		cbor_bstr(out, payload, n);
	cbor_bstr(out, rs, sizeof(rs));
	if (out->failed) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory building COSE_Sign1");
		goto out;
	}
	rc = 0;
out:
	sbuf_free(&tbs);
	return rc;
}

static const uint8_t *find_mem(const uint8_t *p, size_t n, const char *needle)
{
	size_t l = strlen(needle), i;

	for (i = 0; i + l <= n; i++)
		if (memcmp(p + i, needle, l) == 0)
			return p + i;
	return NULL;
}

int simc_pem_certs(const uint8_t *p, size_t n)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	static const char end[] = "-----END CERTIFICATE-----";
	const uint8_t *q = p, *stop = p + n;
	int count = 0;

	for (;;) {
		const uint8_t *b, *e;
		BIO *bio;
		X509 *x;

		while (q < stop && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
			q++;
		if (q == stop)
			return count;
		b = find_mem(q, (size_t)(stop - q), begin);
		if (b != q)
			return 0;      /* text that is not a certificate */
		e = find_mem(b, (size_t)(stop - b), end);
		if (e == NULL)
			return 0;
		e += sizeof(end) - 1;
		bio = BIO_new_mem_buf(b, (int)(e - b));
		x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (x == NULL) {
			ERR_clear_error();
			return 0;
		}
		X509_free(x);
		count++;
		q = e;
	}
}

int simc_keygen_cose(EVP_PKEY *id, const uint8_t uuid[16], uint64_t sec_tag, bool csr,
		     const uint8_t *part1, size_t n, struct sbuf *out, struct nrfca_err *e)
{
	struct sbuf payload, tagb;
	uint8_t nonce[16], digest[32];
	int rc = -1;

	sbuf_init(&payload, 0);
	sbuf_init(&tagb, 0);
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		nrfca_err_set(e, NRFCA_E_CRYPTO, "no random bytes for the nonce");
		goto out;
	}
	SHA256(part1, n, digest);
	cbor_uint(&tagb, sec_tag);
	cbor_head(&payload, CBOR_TAG, 55799);
	cbor_head(&payload, CBOR_ARRAY, 5);
	cbor_uint(&payload, csr ? 9 : 8);
	cbor_bstr(&payload, uuid, 16);
	cbor_bstr(&payload, tagb.p, tagb.len);
	cbor_bstr(&payload, digest, sizeof(digest));
	cbor_bstr(&payload, nonce, sizeof(nonce));
	if (payload.failed || tagb.failed) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	rc = simc_cose_sign1(id, payload.p, payload.len, false, out, e);
out:
	sbuf_free(&payload);
	sbuf_free(&tagb);
	return rc;
}
