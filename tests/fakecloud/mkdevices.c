/*
 * mkdevices - writes an onboarding CSV (or a public-key CSV) of N devices
 * with real P-256 keys and certificates, for the onboarding tests.
 *
 *   mkdevices N OUT [--public-keys] [--prefix P] [--cn-other]
 *
 * Device ids are P000001, P000002, ... (P defaults to "dev-").  Certificates
 * are signed by one throwaway CA key and carry CN=<device id> (--cn-other:
 * CN=other-<device id>).  Rows: id,,,APP|MODEM,"PEM" or id,"PEM public key".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static int put_cert(FILE *f, const char *id, const char *cn, EVP_PKEY *ca, EVP_PKEY *k,
		    long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new(), *issuer = X509_NAME_new();
	int ok = x && n && issuer &&
		 X509_set_version(x, 2) == 1 &&
		 ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1 &&
		 X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					    -1, 0) == 1 &&
		 X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_UTF8,
					    (const unsigned char *)"mkdevices CA", -1, -1, 0) == 1 &&
		 X509_set_subject_name(x, n) == 1 && X509_set_issuer_name(x, issuer) == 1 &&
		 X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
		 X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) != NULL &&
		 X509_set_pubkey(x, k) == 1 && X509_sign(x, ca, EVP_sha256()) > 0;

	if (ok) {
		fprintf(f, "%s,,,APP|MODEM,\"", id);
		ok = PEM_write_X509(f, x) == 1;
		fprintf(f, "\"\n");
	}
	X509_NAME_free(n);
	X509_NAME_free(issuer);
	X509_free(x);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *prefix = "dev-";
	int pubkeys = 0, cn_other = 0, i;
	long n;
	EVP_PKEY *ca;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: mkdevices N OUT [--public-keys] [--prefix P] [--cn-other]\n");
		return 2;
	}
	n = strtol(argv[1], NULL, 10);
	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--public-keys") == 0)
			pubkeys = 1;
		else if (strcmp(argv[i], "--cn-other") == 0)
			cn_other = 1;
		else if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc)
			prefix = argv[++i];
		else {
			fprintf(stderr, "mkdevices: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	f = fopen(argv[2], "w");
	ca = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (f == NULL || ca == NULL) {
		fprintf(stderr, "mkdevices: cannot start\n");
		return 1;
	}
	for (i = 1; i <= n; i++) {
		char id[160], cn[200];
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		int rc;

		snprintf(id, sizeof(id), "%s%06d", prefix, i);
		snprintf(cn, sizeof(cn), "%s%s", cn_other ? "other-" : "", id);
		if (k == NULL)
			return 1;
		if (pubkeys) {
			fprintf(f, "%s,\"", id);
			rc = PEM_write_PUBKEY(f, k) == 1 ? 0 : -1;
			fprintf(f, "\"\n");
		} else {
			rc = put_cert(f, id, cn, ca, k, i);
		}
		EVP_PKEY_free(k);
		if (rc != 0) {
			fprintf(stderr, "mkdevices: cannot make device %d\n", i);
			return 1;
		}
	}
	EVP_PKEY_free(ca);
	return fclose(f) == 0 ? 0 : 1;
}
