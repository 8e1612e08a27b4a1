#include "x509util.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "b64url.h"

int nrfca_x509_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (ext == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

int nrfca_random_serial(unsigned char b[16], char hex[33])
{
	do {
		if (RAND_bytes(b, 16) != 1)
			return 0;
		b[0] &= 0x7f;
	} while (b[0] == 0);
	if (hex != NULL)
		nrfca_hex_encode(b, 16, hex);
	return 1;
}

int nrfca_x509_random_serial(X509 *x, char hex[33])
{
	unsigned char b[16];
	BIGNUM *bn;
	int ok;

	if (!nrfca_random_serial(b, NULL))
		return 0;
	bn = BN_bin2bn(b, sizeof(b), NULL);
	ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	if (hex != NULL)
		nrfca_hex_encode(b, sizeof(b), hex);
	return ok;
}

static GENERAL_NAME *uri_name(const char *url)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	if (gn == NULL || s == NULL || ASN1_STRING_set(s, url, (int)strlen(url)) != 1) {
		GENERAL_NAME_free(gn);
		ASN1_IA5STRING_free(s);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_URI, s);
	return gn;
}

int nrfca_x509_add_crl_dp(X509 *x, const char *const *urls, size_t n)
{
	CRL_DIST_POINTS *dps;
	DIST_POINT *dp = NULL;
	GENERAL_NAME *gn = NULL;
	size_t i;
	int ok = 0;

	if (n == 0)
		return 1;
	if ((dps = sk_DIST_POINT_new_null()) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if ((dp = DIST_POINT_new()) == NULL || (dp->distpoint = DIST_POINT_NAME_new()) == NULL ||
		    (dp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL ||
		    (gn = uri_name(urls[i])) == NULL)
			goto out;
		dp->distpoint->type = 0;      /* fullName */
		if (sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn) == 0)
			goto out;
		gn = NULL;
		if (sk_DIST_POINT_push(dps, dp) == 0)
			goto out;
		dp = NULL;
	}
	ok = X509_add1_ext_i2d(x, NID_crl_distribution_points, dps, 0, X509V3_ADD_DEFAULT) == 1;
out:
	GENERAL_NAME_free(gn);
	DIST_POINT_free(dp);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return ok;
}

int nrfca_x509_add_ca_issuers(X509 *x, const char *const *urls, size_t n)
{
	AUTHORITY_INFO_ACCESS *aia;
	ACCESS_DESCRIPTION *ad = NULL;
	size_t i;
	int ok = 0;

	if (n == 0)
		return 1;
	if ((aia = sk_ACCESS_DESCRIPTION_new_null()) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if ((ad = ACCESS_DESCRIPTION_new()) == NULL)
			goto out;
		ASN1_OBJECT_free(ad->method);
		ad->method = OBJ_nid2obj(NID_ad_ca_issuers);
		GENERAL_NAME_free(ad->location);
		if ((ad->location = uri_name(urls[i])) == NULL)
			goto out;
		if (sk_ACCESS_DESCRIPTION_push(aia, ad) == 0)
			goto out;
		ad = NULL;
	}
	ok = X509_add1_ext_i2d(x, NID_info_access, aia, 0, X509V3_ADD_DEFAULT) == 1;
out:
	ACCESS_DESCRIPTION_free(ad);
	sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
	return ok;
}

int nrfca_x509_set_spki(X509 *x, const X509_ALGOR *alg, const ASN1_BIT_STRING *key)
{
	X509_PUBKEY *pub = X509_get_X509_PUBKEY(x);
	const ASN1_OBJECT *obj;
	const void *pval;
	void *param = NULL;
	ASN1_OBJECT *aobj = NULL;
	unsigned char *bits = NULL;
	int ptype;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	switch (ptype) {
	case V_ASN1_UNDEF:
	case V_ASN1_NULL:
		break;
	case V_ASN1_OBJECT:
		if ((param = OBJ_dup(pval)) == NULL)
			return 0;
		break;
	case V_ASN1_SEQUENCE:
		if ((param = ASN1_STRING_dup(pval)) == NULL)
			return 0;
		break;
	default:
		return 0;    /* no key algorithm has other parameters */
	}
	if (pub == NULL || key->length <= 0 || (aobj = OBJ_dup(obj)) == NULL ||
	    (bits = OPENSSL_memdup(key->data, (size_t)key->length)) == NULL)
		goto fail;
	if (X509_PUBKEY_set0_param(pub, aobj, ptype, param, bits, key->length) != 1)
		goto fail;
	return 1;
fail:
	ASN1_OBJECT_free(aobj);
	OPENSSL_free(bits);
	if (ptype == V_ASN1_OBJECT)
		ASN1_OBJECT_free(param);
	else
		ASN1_STRING_free(param);
	return 0;
}

int nrfca_x509_add_basic_constraints_ee(X509 *x, int critical)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	int ok;

	if (bc == NULL)
		return 0;
	bc->ca = 0;   /* DEFAULT FALSE: the empty SEQUENCE, as "CA:FALSE" */
	ok = X509_add1_ext_i2d(x, NID_basic_constraints, bc, critical, X509V3_ADD_DEFAULT) == 1;
	BASIC_CONSTRAINTS_free(bc);
	return ok;
}

int nrfca_x509_add_key_usage(X509 *x, unsigned ku, int critical)
{
	/* the mask's bits in the BIT STRING's order (RFC 5280 4.2.1.3) */
	static const unsigned order[] = {
		X509v3_KU_DIGITAL_SIGNATURE, X509v3_KU_NON_REPUDIATION, X509v3_KU_KEY_ENCIPHERMENT,
		X509v3_KU_DATA_ENCIPHERMENT, X509v3_KU_KEY_AGREEMENT, X509v3_KU_KEY_CERT_SIGN,
		X509v3_KU_CRL_SIGN, X509v3_KU_ENCIPHER_ONLY, X509v3_KU_DECIPHER_ONLY,
	};
	ASN1_BIT_STRING *bs = ASN1_BIT_STRING_new();
	size_t i;
	int ok = bs != NULL;

	for (i = 0; ok && i < sizeof(order) / sizeof(order[0]); i++)
		if (ku & order[i])
			ok = ASN1_BIT_STRING_set_bit(bs, (int)i, 1) == 1;
	ok = ok && X509_add1_ext_i2d(x, NID_key_usage, bs, critical, X509V3_ADD_DEFAULT) == 1;
	ASN1_BIT_STRING_free(bs);
	return ok;
}

int nrfca_x509_add_eku(X509 *x, const char *const *eku, size_t n, int critical)
{
	EXTENDED_KEY_USAGE *e = sk_ASN1_OBJECT_new_null();
	ASN1_OBJECT *o;
	size_t i;
	int ok = e != NULL;

	for (i = 0; ok && i < n; i++) {
		/* names and dotted OIDs, as the configuration syntax takes them */
		ok = (o = OBJ_txt2obj(eku[i], 0)) != NULL;
		if (ok && sk_ASN1_OBJECT_push(e, o) == 0) {
			ASN1_OBJECT_free(o);
			ok = 0;
		}
	}
	ok = ok && X509_add1_ext_i2d(x, NID_ext_key_usage, e, critical, X509V3_ADD_DEFAULT) == 1;
	sk_ASN1_OBJECT_pop_free(e, ASN1_OBJECT_free);
	return ok;
}

/* SHA-1 of the subjectPublicKey BIT STRING's bytes (RFC 5280 4.2.1.2 (1)) */
static ASN1_OCTET_STRING *key_hash(const X509 *x)
{
	unsigned char md[SHA_DIGEST_LENGTH];
	const unsigned char *pk;
	ASN1_OCTET_STRING *o;
	X509_PUBKEY *xpk = X509_get_X509_PUBKEY(x);
	int pklen;

	if (xpk == NULL || X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xpk) != 1 ||
	    SHA1(pk, (size_t)pklen, md) == NULL || (o = ASN1_OCTET_STRING_new()) == NULL)
		return NULL;
	if (ASN1_OCTET_STRING_set(o, md, sizeof(md)) != 1) {
		ASN1_OCTET_STRING_free(o);
		return NULL;
	}
	return o;
}

int nrfca_x509_add_ski(X509 *x)
{
	ASN1_OCTET_STRING *o = key_hash(x);
	int ok = o != NULL &&
		 X509_add1_ext_i2d(x, NID_subject_key_identifier, o, 0, X509V3_ADD_DEFAULT) == 1;

	ASN1_OCTET_STRING_free(o);
	return ok;
}

int nrfca_x509_add_aki(X509 *x, const X509 *issuer)
{
	/* the issuer's first subjectKeyIdentifier, as "keyid" takes it */
	int i = X509_get_ext_by_NID(issuer, NID_subject_key_identifier, -1);
	X509_EXTENSION *e = i >= 0 ? X509_get_ext(issuer, i) : NULL;
	AUTHORITY_KEYID *aki;
	int ok;

	if (e == NULL || (aki = AUTHORITY_KEYID_new()) == NULL)
		return 0;
	aki->keyid = X509V3_EXT_d2i(e);
	ok = aki->keyid != NULL &&
	     X509_add1_ext_i2d(x, NID_authority_key_identifier, aki, 0, X509V3_ADD_DEFAULT) == 1;
	AUTHORITY_KEYID_free(aki);
	return ok;
}
