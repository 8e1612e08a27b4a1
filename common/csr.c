#include "csr.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "digest.h"

/*
 * PKCS#10 (RFC 2986) as OpenSSL's own X509_REQ templates describe it
 * (crypto/x509/x_req.c), with one difference: the SubjectPublicKeyInfo stays
 * an algorithm and a BIT STRING.  OpenSSL 3.0 turns every X509_PUBKEY it
 * decodes into an EVP_PKEY through a decoder chain built for that one key,
 * which costs more than the rest of an enrollment together; this module
 * makes the key once (spki_pkey) and hands the certificate builder the
 * algorithm and key bits as received.  OpenSSL's DER decoder does all the
 * parsing; the request info keeps its received encoding (ASN1_SEQUENCE_enc),
 * so the self-signature is checked over the bytes as signed.
 */
typedef struct {
	X509_ALGOR *algor;
	ASN1_BIT_STRING *public_key;
} NRFCA_SPKI;

typedef struct {
	ASN1_ENCODING enc;
	ASN1_INTEGER *version;
	X509_NAME *subject;
	NRFCA_SPKI *spki;
	STACK_OF(X509_ATTRIBUTE) *attributes;
} NRFCA_REQ_INFO;

typedef struct {
	NRFCA_REQ_INFO *info;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *signature;
} NRFCA_REQ;

ASN1_SEQUENCE(NRFCA_SPKI) = {
	ASN1_SIMPLE(NRFCA_SPKI, algor, X509_ALGOR),
	ASN1_SIMPLE(NRFCA_SPKI, public_key, ASN1_BIT_STRING)
} static_ASN1_SEQUENCE_END(NRFCA_SPKI)

ASN1_SEQUENCE_enc(NRFCA_REQ_INFO, enc, NULL) = {
	ASN1_SIMPLE(NRFCA_REQ_INFO, version, ASN1_INTEGER),
	ASN1_SIMPLE(NRFCA_REQ_INFO, subject, X509_NAME),
	ASN1_SIMPLE(NRFCA_REQ_INFO, spki, NRFCA_SPKI),
	/* not OPTIONAL in RFC 2986; OpenSSL accepts its absence, so do we */
	ASN1_IMP_SET_OF_OPT(NRFCA_REQ_INFO, attributes, X509_ATTRIBUTE, 0)
} static_ASN1_SEQUENCE_END_ref(NRFCA_REQ_INFO, NRFCA_REQ_INFO)

ASN1_SEQUENCE(NRFCA_REQ) = {
	ASN1_SIMPLE(NRFCA_REQ, info, NRFCA_REQ_INFO),
	ASN1_SIMPLE(NRFCA_REQ, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(NRFCA_REQ, signature, ASN1_BIT_STRING)
} static_ASN1_SEQUENCE_END(NRFCA_REQ)


struct nrfca_csr {
	NRFCA_REQ *req;
	EVP_PKEY *pkey;          /* made once from the SubjectPublicKeyInfo */
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
	ASN1_item_free((ASN1_VALUE *)c->req, ASN1_ITEM_rptr(NRFCA_REQ));
	EVP_PKEY_free(c->pkey);
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
static int extract_cn(const X509_NAME *name, char **cn, struct nrfca_err *err)
{
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

/* The extensionRequest attribute, decoded as X509_REQ_get_extensions does. */
static STACK_OF(X509_EXTENSION) *requested_extensions(const NRFCA_REQ *req)
{
	const STACK_OF(X509_ATTRIBUTE) *attrs = req->info->attributes;
	const ASN1_TYPE *t;
	const unsigned char *p;
	int idx = X509at_get_attr_by_NID(attrs, NID_ext_req, -1);

	t = X509_ATTRIBUTE_get0_type(X509at_get_attr(attrs, idx), 0);
	if (t == NULL)
		return sk_X509_EXTENSION_new_null();
	if (t->type != V_ASN1_SEQUENCE)
		return NULL;
	p = t->value.sequence->data;
	return (STACK_OF(X509_EXTENSION) *)ASN1_item_d2i(NULL, &p, t->value.sequence->length,
							 ASN1_ITEM_rptr(X509_EXTENSIONS));
}

static int extract_key_usage(struct nrfca_csr *c, struct nrfca_err *err)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	ASN1_BIT_STRING *ku = NULL;
	int i, crit = 0, rc = -1;

	c->key_usage = 0;
	c->key_usage_present = 0;
	if (X509at_get_attr_by_NID(c->req->info->attributes, NID_ext_req, -1) < 0)
		return 0;
	exts = requested_extensions(c->req);
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

/* An EC public key from its curve and point (EVP_PKEY_fromdata, which
 * checks that the point is on the curve). */
static EVP_PKEY *ec_fromdata(int curve, const unsigned char *point, size_t n)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						     (char *)OBJ_nid2sn(curve), 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, n);
	params[2] = OSSL_PARAM_construct_end();
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

/* P-256 (every modem's key): a copy of a key made once at first use, given
 * the CSR's point with EVP_PKEY_set1_encoded_public_key (which checks it is
 * on the curve, as EVP_PKEY_fromdata does).  EVP_PKEY_fromdata builds the
 * curve's group from its parameters for every key (~18 us here); the copy
 * shares that work (~5 us).  The template is only read (EVP_PKEY_dup), so
 * threads may copy it at the same time. */
static EVP_PKEY *p256_template;
static pthread_once_t p256_once = PTHREAD_ONCE_INIT;

static void p256_make(void)
{
	/* the generator of P-256, uncompressed: a point on the curve */
	static const unsigned char g[65] = {
		0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63,
		0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39,
		0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e,
		0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e,
		0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
	};

	p256_template = ec_fromdata(NID_X9_62_prime256v1, g, sizeof(g));
}

static EVP_PKEY *ec_pkey(int curve, const unsigned char *point, size_t n)
{
	EVP_PKEY *pk;

	if (curve == NID_X9_62_prime256v1) {
		pthread_once(&p256_once, p256_make);
		if (p256_template != NULL) {
			pk = EVP_PKEY_dup(p256_template);
			if (pk != NULL && EVP_PKEY_set1_encoded_public_key(pk, point, n) == 1)
				return pk;
			EVP_PKEY_free(pk);
			return NULL;
		}
	}
	return ec_fromdata(curve, point, n);
}

/* An EC key on a named curve is imported from its point (checked to be on
 * the curve); any other key goes through OpenSSL's generic
 * SubjectPublicKeyInfo decoder. */
static EVP_PKEY *spki_pkey(const NRFCA_SPKI *spki, const unsigned char *der, size_t len)
{
	const ASN1_OBJECT *alg;
	const void *pval;
	int ptype, curve;

	X509_ALGOR_get0(&alg, &ptype, &pval, spki->algor);
	if (OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT &&
	    (curve = OBJ_obj2nid(pval)) != NID_undef && spki->public_key->length > 0 &&
	    (spki->public_key->flags & 0x07) == 0)
		return ec_pkey(curve, spki->public_key->data, (size_t)spki->public_key->length);
	return d2i_PUBKEY(NULL, &der, (long)len);
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
static int check_signature_algorithm(const X509_ALGOR *alg, struct nrfca_err *err)
{
	const ASN1_OBJECT *oid;
	char name[80];
	int sig, md = NID_undef, pk = NID_undef;

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
	c->req = (NRFCA_REQ *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(NRFCA_REQ));
	if (c->req == NULL) {
		nrfca_err_ssl(err, NRFCA_E_INPUT, "the CSR is not valid DER PKCS#10");
		goto out;
	}
	if (p != der + len) {
		nrfca_err_set(err, NRFCA_E_INPUT,
			      "the CSR is followed by %zu unexpected bytes", (size_t)(der + len - p));
		goto out;
	}
	if (ASN1_INTEGER_get(c->req->info->version) != X509_REQ_VERSION_1) {
		nrfca_err_set(err, NRFCA_E_INPUT, "the CSR has version %ld, only version 1 (0) exists",
			      ASN1_INTEGER_get(c->req->info->version));
		goto out;
	}
	if (check_signature_algorithm(c->req->sig_alg, err) != 0)
		goto out;
	/* the SubjectPublicKeyInfo as OpenSSL's X509_PUBKEY encodes it */
	spki_len = ASN1_item_i2d((ASN1_VALUE *)c->req->info->spki, &spki,
				 ASN1_ITEM_rptr(NRFCA_SPKI));
	if (spki_len <= 0) {
		nrfca_err_ssl(err, NRFCA_E_INPUT, "the CSR's public key cannot be encoded");
		goto out;
	}
	pk = c->pkey = spki_pkey(c->req->info->spki, spki, (size_t)spki_len);
	if (pk == NULL) {
		nrfca_err_ssl(err, NRFCA_E_INPUT, "the CSR's public key cannot be decoded");
		goto out;
	}
	v = ASN1_item_verify(ASN1_ITEM_rptr(NRFCA_REQ_INFO), c->req->sig_alg, c->req->signature,
			     c->req->info, pk);
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
	if (extract_cn(c->req->info->subject, &c->cn, err) != 0)
		goto out;
	if (extract_key_usage(c, err) != 0)
		goto out;
	c->key_type = EVP_PKEY_get_base_id(pk);
	c->curve_nid = curve_of(pk);
	c->key_bits = EVP_PKEY_get_bits(pk);
	nrfca_pkey_describe(pk, c->key_desc, sizeof(c->key_desc));
	if (nrfca_sha256(der, len, c->sha256) != 0 ||
	    nrfca_sha256(spki, (size_t)spki_len, c->spki_sha256) != 0) {
		nrfca_err_ssl(err, NRFCA_E_CRYPTO, "SHA-256 failed");
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
	return c->req->info->subject;
}

EVP_PKEY *nrfca_csr_pubkey(const struct nrfca_csr *c)
{
	return c->pkey;
}

void nrfca_csr_spki(const struct nrfca_csr *c, const X509_ALGOR **alg,
		    const ASN1_BIT_STRING **key)
{
	*alg = c->req->info->spki->algor;
	*key = c->req->info->spki->public_key;
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

	if (bio == NULL || len > NRFCA_DER_PEM_MAX) {
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
