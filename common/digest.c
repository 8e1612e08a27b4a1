#include "digest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256, *sha384;

static void fetch(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
	if (sha256 == NULL || sha384 == NULL) {
		fprintf(stderr, "nrfca: OpenSSL offers no SHA-256/SHA-384 (default provider not loaded?)\n");
		abort();
	}
}

const EVP_MD *nrfca_md_sha256(void)
{
	pthread_once(&once, fetch);
	return sha256;
}

const EVP_MD *nrfca_md_sha384(void)
{
	pthread_once(&once, fetch);
	return sha384;
}

int nrfca_sha256(const void *p, size_t n, unsigned char out[32])
{
	return EVP_Digest(p, n, out, NULL, nrfca_md_sha256(), NULL) == 1 ? 0 : -1;
}
