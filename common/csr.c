#include "csr.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

struct nrfca_csr {
	X509_REQ *req;
	unsigned char *der;
	size_t der_len;
	char *cn;                /* UTF-8, NULL when the subject has no CN */
	char key_desc[48];
	int key_type;
	int curve_nid;
	int key_bits;
	unsigned key_usage;
	int key_usage_present;
	unsigned char sha256[32];
	unsigned char spki_sha256[32];
};

void nrfca_csr_free(struct nrfca_csr *c)
{
	if (c == NULL)
		return;
	X509_REQ_free(c->req);
	free(c->der);
	free(c->cn);
	free(c);
}

static int curve_of(const EVP_PKEY *pk)
{
	char name[64];
	size_t n = 0;

	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC)
		return NID_undef;
	if (EVP_PKEY_get_group_name(pk, name, sizeof(name), &n) != 1)
		return NID_undef;
	return OBJ_txt2nid(name);
}

void nrfca_pkey_describe(const EVP_PKEY *pk, char *buf, size_t cap)
{
	int id = EVP_PKEY_get_base_id(pk);
	int nid;

	switch (id) {
	case EVP_PKEY_EC:
		nid = curve_of(pk);
		if (nid == NID_X9_62_prime256v1)
			snprintf(buf, cap, "EC P-256");
		else if (nid == NID_secp384r1)
			snprintf(buf, cap, "EC P-384");
		else if (nid == NID_secp521r1)
			snprintf(buf, cap, "EC P-521");
		else if (nid != NID_undef)
			snprintf(buf, cap, "EC %s", OBJ_nid2sn(nid));
		else
			snprintf(buf, cap, "EC (unknown curve)");
		break;
	case EVP_PKEY_RSA:
		snprintf(buf, cap, "RSA %d", EVP_PKEY_get_bits(pk));
		break;
	case EVP_PKEY_RSA_PSS:
		snprintf(buf, cap, "RSA-PSS %d", EVP_PKEY_get_bits(pk));
		break;
	case EVP_PKEY_ED25519:
		snprintf(buf, cap, "ED25519");
		break;
	case EVP_PKEY_ED448:
		snprintf(buf, cap, "ED448");
		break;
	default:
		snprintf(buf, cap, "%s", id != NID_undef ? OBJ_nid2sn(id) : "unknown key type");
		break;
	}
}

/* The subject's one CN as a NUL-terminated UTF-8 string, or NULL without one. */
static int extract_cn(X509_REQ *req, char **cn, struct nrfca_err *err)
{
	const X509_NAME *name = X509_REQ_get_subject_name(req);
	X509_NAME_ENTRY *e;
	unsigned char *utf8 = NULL;
	int i, n;

	*cn = NULL;
	i = X509_NAME_get_index_by_NID((X509_NAME *)name, NID_commonName, -1);
	if (i < 0)
		return 0;
	if (X509_NAME_get_index_by_NID((X509_NAME *)name, NID_commonName, i) >= 0)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "the CSR subject holds more than one CN");
	e = X509_NAME_get_entry(name, i);
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
	if (n < 0)
		return nrfca_err_ssl(err, NRFCA_E_INPUT, "the CSR subject CN cannot be read");
	if (memchr(utf8, '\0', (size_t)n) != NULL) {
		OPENSSL_free(utf8);
		return nrfca_err_set(err, NRFCA_E_INPUT, "the CSR subject CN contains a NUL byte");
	}
	*cn = strdup((char *)utf8);
	OPENSSL_free(utf8);
	if (*cn == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	return 0;
}

static int extract_key_usage(struct nrfca_csr *c, struct nrfca_err *err)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	ASN1_BIT_STRING *ku = NULL;
	int i, crit = 0, rc = -1;

	c->key_usage = 0;
	c->key_usage_present = 0;
	if (X509_REQ_get_attr_by_NID(c->req, NID_ext_req, -1) < 0)
		return 0;
	exts = X509_REQ_get_extensions(c->req);
	if (exts == NULL) {
		nrfca_err_ssl(err, NRFCA_E_INPUT, "the CSR's extensionRequest cannot be decoded");
		goto out;
	}
	ku = X509V3_get_d2i(exts, NID_key_usage, &crit, NULL);
	if (ku == NULL) {
		if (crit == -2) {
			nrfca_err_set(err, NRFCA_E_INPUT,
				      "the CSR requests KeyUsage more than once");
			goto out;
		}
		if (crit != -1) {
			nrfca_err_ssl(err, NRFCA_E_INPUT,
				      "the CSR's requested KeyUsage cannot be decoded");
			goto out;
		}
		rc = 0;
		goto out;
	}
	c->key_usage_present = 1;
	for (i = 0; i <= 8; i++)
		if (ASN1_BIT_STRING_get_bit(ku, i))
			c->key_usage |= 1u << i;
	rc = 0;
out:
	ASN1_BIT_STRING_free(ku);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return rc;
}

/* The digest of an RSASSA-PSS AlgorithmIdentifier (SHA-1 when absent). */
static int pss_digest(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *oid;
	const void *pval;
	int ptype, nid = NID_undef;
	RSA_PSS_PARAMS *pss;

	X509_ALGOR_get0(&oid, &ptype, &pval, alg);
	if (ptype != V_ASN1_SEQUENCE)
		return NID_undef;
	pss = ASN1_item_unpack(pval, ASN1_ITEM_rptr(RSA_PSS_PARAMS));
	if (pss == NULL)
		return NID_undef;
	nid = pss->hashAlgorithm ? OBJ_obj2nid(pss->hashAlgorithm->algorithm) : NID_sha1;
	RSA_PSS_PARAMS_free(pss);
	return nid;
}

/* Proof of possession is only as good as the digest's collision resistance:
 * SHA-256 or stronger (SHA-2, SHA-3), or Ed25519/Ed448.  MD5, SHA-1 and
 * SHA-224 (and anything unknown) are refused, naming the algorithm. */
static int check_signature_algorithm(const X509_REQ *req, struct nrfca_err *err)
{
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *oid;
	char name[80];
	int sig, md = NID_undef, pk = NID_undef;

	X509_REQ_get0_signature(req, NULL, &alg);
	X509_ALGOR_get0(&oid, NULL, NULL, alg);
	sig = OBJ_obj2nid(oid);
	if (sig == NID_ED25519 || sig == NID_ED448)
		return 0;
	if (sig == NID_rsassaPss)
		md = pss_digest(alg);
	else if (sig != NID_undef)
		OBJ_find_sigid_algs(sig, &md, &pk);
	switch (md) {
	case NID_sha256: case NID_sha384: case NID_sha512:
	case NID_sha3_256: case NID_sha3_384: case NID_sha3_512:
		return 0;
	}
	if (sig == NID_rsassaPss)
		snprintf(name, sizeof(name), "RSASSA-PSS with %s",
			 md != NID_undef ? OBJ_nid2sn(md) : "an unreadable digest");
	else
		OBJ_obj2txt(name, sizeof(name), oid, 0);
	return nrfca_err_set(err, NRFCA_E_INPUT,
			     "the CSR is signed with %s; only SHA-256 or stronger (or Ed25519) is "
			     "accepted, MD5, SHA-1 and SHA-224 are refused", name);
}

int nrfca_csr_from_der(const unsigned char *der, size_t len, struct nrfca_csr **out,
		       struct nrfca_err *err)
{
	struct nrfca_csr *c = NULL;
	const unsigned char *p = der;
	EVP_PKEY *pk;
	X509_PUBKEY *xpk;
	unsigned char *spki = NULL;
	int spki_len, v, rc = -1;

	if (len == 0) {
		nrfca_err_set(err, NRFCA_E_INPUT, "the CSR is empty");
		goto out;
	}
	if (len > NRFCA_CSR_DER_MAX) {
		nrfca_err_set(err, NRFCA_E_TOO_LARGE, "the CSR is %zu bytes, more than the %d allowed",
			      len, NRFCA_CSR_DER_MAX);
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	c->req = d2i_X509_REQ(NULL, &p, (long)len);
	if (c->req == NULL) {
		nrfca_err_ssl(err, NRFCA_E_INPUT, "the CSR is not valid DER PKCS#10");
		goto out;
	}
	if (p != der + len) {
		nrfca_err_set(err, NRFCA_E_INPUT,
			      "the CSR is followed by %zu unexpected bytes", (size_t)(der + len - p));
		goto out;
	}
	if (X509_REQ_get_version(c->req) != X509_REQ_VERSION_1) {
		nrfca_err_set(err, NRFCA_E_INPUT, "the CSR has version %ld, only version 1 (0) exists",
			      X509_REQ_get_version(c->req));
		goto out;
	}
	if (check_signature_algorithm(c->req, err) != 0)
		goto out;
	pk = X509_REQ_get0_pubkey(c->req);
	if (pk == NULL) {
		nrfca_err_ssl(err, NRFCA_E_INPUT, "the CSR's public key cannot be decoded");
		goto out;
	}
	v = X509_REQ_verify(c->req, pk);
	if (v != 1) {
		nrfca_err_ssl(err, NRFCA_E_CRYPTO,
			      "the CSR's self-signature does not verify (it was altered, or the "
			      "requester does not hold the private key)");
		goto out;
	}
	c->der = malloc(len);
	if (c->der == NULL) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(c->der, der, len);
	c->der_len = len;
	if (extract_cn(c->req, &c->cn, err) != 0)
		goto out;
	if (extract_key_usage(c, err) != 0)
		goto out;
	c->key_type = EVP_PKEY_get_base_id(pk);
	c->curve_nid = curve_of(pk);
	c->key_bits = EVP_PKEY_get_bits(pk);
	nrfca_pkey_describe(pk, c->key_desc, sizeof(c->key_desc));
	if (EVP_Digest(der, len, c->sha256, NULL, EVP_sha256(), NULL) != 1) {
		nrfca_err_ssl(err, NRFCA_E_CRYPTO, "SHA-256 failed");
		goto out;
	}
	xpk = X509_REQ_get_X509_PUBKEY(c->req);
	spki_len = i2d_X509_PUBKEY(xpk, &spki);
	if (spki_len <= 0 ||
	    EVP_Digest(spki, (size_t)spki_len, c->spki_sha256, NULL, EVP_sha256(), NULL) != 1) {
		nrfca_err_ssl(err, NRFCA_E_CRYPTO, "cannot encode the CSR's public key");
		goto out;
	}
	*out = c;
	c = NULL;
	rc = 0;
out:
	OPENSSL_free(spki);
	nrfca_csr_free(c);
	return rc;
}

static int only_space(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

int nrfca_csr_from_pem(const char *pem, size_t len, struct nrfca_csr **out,
		       struct nrfca_err *err)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL, rest[64];
	unsigned char *data = NULL;
	long dlen = 0;
	size_t i = 0;
	int n, rc = -1;

	if (len > NRFCA_CSR_PEM_MAX) {
		nrfca_err_set(err, NRFCA_E_TOO_LARGE, "the PEM CSR is %zu bytes, more than the %d allowed",
			      len, NRFCA_CSR_PEM_MAX);
		goto out;
	}
	while (i < len && only_space(pem + i, 1))
		i++;
	if (len - i < 11 || memcmp(pem + i, "-----BEGIN ", 11) != 0) {
		nrfca_err_set(err, NRFCA_E_INPUT,
			      "the CSR is not PEM: it must start with \"-----BEGIN CERTIFICATE REQUEST-----\"");
		goto out;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	if (PEM_read_bio(bio, &name, &header, &data, &dlen) != 1) {
		nrfca_err_ssl(err, NRFCA_E_INPUT, "the PEM CSR cannot be decoded");
		goto out;
	}
	if (strcmp(name, "CERTIFICATE REQUEST") != 0 && strcmp(name, "NEW CERTIFICATE REQUEST") != 0) {
		nrfca_err_set(err, NRFCA_E_INPUT,
			      "the PEM block is a \"%.40s\", not a \"CERTIFICATE REQUEST\"", name);
		goto out;
	}
	if (header[0] != '\0') {
		nrfca_err_set(err, NRFCA_E_INPUT, "the PEM CSR has headers; only a plain block is accepted");
		goto out;
	}
	while ((n = BIO_read(bio, rest, sizeof(rest))) > 0) {
		if (!only_space(rest, (size_t)n)) {
			nrfca_err_set(err, NRFCA_E_INPUT,
				      "unexpected text after the PEM CSR (only one block is accepted)");
			goto out;
		}
	}
	rc = nrfca_csr_from_der(data, (size_t)dlen, out, err);
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return rc;
}

const char *nrfca_csr_cn(const struct nrfca_csr *c)
{
	return c->cn;
}

const char *nrfca_csr_key_desc(const struct nrfca_csr *c)
{
	return c->key_desc;
}

int nrfca_csr_key_type(const struct nrfca_csr *c)
{
	return c->key_type;
}

int nrfca_csr_curve_nid(const struct nrfca_csr *c)
{
	return c->curve_nid;
}

int nrfca_csr_key_bits(const struct nrfca_csr *c)
{
	return c->key_bits;
}

unsigned nrfca_csr_key_usage(const struct nrfca_csr *c, int *present)
{
	if (present != NULL)
		*present = c->key_usage_present;
	return c->key_usage;
}

const X509_NAME *nrfca_csr_subject(const struct nrfca_csr *c)
{
	return X509_REQ_get_subject_name(c->req);
}

EVP_PKEY *nrfca_csr_pubkey(const struct nrfca_csr *c)
{
	return X509_REQ_get0_pubkey(c->req);
}

const X509_REQ *nrfca_csr_req(const struct nrfca_csr *c)
{
	return c->req;
}

const unsigned char *nrfca_csr_der(const struct nrfca_csr *c, size_t *len)
{
	*len = c->der_len;
	return c->der;
}

void nrfca_csr_sha256(const struct nrfca_csr *c, unsigned char out[32])
{
	memcpy(out, c->sha256, 32);
}

void nrfca_csr_spki_sha256(const struct nrfca_csr *c, unsigned char out[32])
{
	memcpy(out, c->spki_sha256, 32);
}

int nrfca_der_to_pem(const char *label, const unsigned char *der, size_t len, char **pem,
		     struct nrfca_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *mem, *s;
	long n;
	int rc = -1;

	if (bio == NULL || len > NRFCA_CSR_PEM_MAX) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "cannot encode PEM");
		goto out;
	}
	if (PEM_write_bio(bio, label, "", der, (long)len) <= 0) {
		nrfca_err_ssl(err, NRFCA_E_CRYPTO, "cannot encode PEM");
		goto out;
	}
	n = BIO_get_mem_data(bio, &mem);
	s = malloc((size_t)n + 1);
	if (n <= 0 || s == NULL) {
		free(s);
		nrfca_err_set(err, NRFCA_E_NOMEM, "cannot encode PEM");
		goto out;
	}
	memcpy(s, mem, (size_t)n);
	s[n] = '\0';
	*pem = s;
	rc = 0;
out:
	BIO_free(bio);
	return rc;
}

int nrfca_csr_to_pem(const struct nrfca_csr *c, char **pem, struct nrfca_err *err)
{
	return nrfca_der_to_pem("CERTIFICATE REQUEST", c->der, c->der_len, pem, err);
}

int nrfca_spki_from_der(const unsigned char *der, size_t len, EVP_PKEY **out,
			struct nrfca_err *err)
{
	const unsigned char *p = der;
	EVP_PKEY *pk;

	if (len == 0 || len > NRFCA_CSR_DER_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "the public key is %zu bytes; expected 1 to %d", len,
				     NRFCA_CSR_DER_MAX);
	pk = d2i_PUBKEY(NULL, &p, (long)len);
	if (pk == NULL)
		return nrfca_err_ssl(err, NRFCA_E_INPUT,
				     "the public key is not a valid SubjectPublicKeyInfo");
	if (p != der + len) {
		EVP_PKEY_free(pk);
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "the public key is followed by %zu unexpected bytes",
				     (size_t)(der + len - p));
	}
	*out = pk;
	return 0;
}
