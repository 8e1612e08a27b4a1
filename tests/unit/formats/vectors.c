#include "vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"

/* Values from tests/data/vectors/EXPECTED.md. */
const struct vector test_vectors[] = {
	{ "keygen-csr-sectag17.txt", "csr", "50363154-3931-44f0-8022-121b6401627d", 9,
	  "50363154-3931-44f0-8022-121b6401627d", 17,
	  "702a3d56f05b2f72531d650825e20041e2e9d9318c34b6853ab9066e5c72e80c",
	  "1b8722ee1deb581566e2cb1359b27cd2" },
	{ "keygen-line-sectag52.txt", "csr", "50363953-3234-4723-80b9-1503d88271bf", 9,
	  "50363953-3234-4723-80b9-1503d88271bf", 52,
	  "4da6bb67d2bef1b40fcf7606e68fe1df6aae36bd051c4b675f9569119fbc81f9", NULL },
	{ "keygen-line-custom-cn.txt", "csr", "nrf-355025930000000", 9,
	  "50343956-3037-4738-800d-1f29e0a0f7bf", 52,
	  "977ca093ffe5fa967d8ed96c7f4032b8526545a684a2e8736206aedb339c1f00", NULL },
	{ "keygen-pubkey-sectag16.txt", "public_key", NULL, 8,
	  "50363154-3931-44f0-8022-121b6401627d", 16,
	  "e5a2fc2a315a09d56fb1f774eaca9cb6bffd402efdfe18217547d818232d9656", NULL },
	{ "attesttoken-line.txt", "attestation_token", NULL, 1,
	  "50363154-3931-44f0-8022-121b6401627d", -1, NULL, NULL },
};
const size_t test_vectors_count = sizeof(test_vectors) / sizeof(test_vectors[0]);

char *vector_read(const char *name, size_t *len)
{
	const char *dir = getenv("NRFCA_TEST_DATA");
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/vectors/%s", dir ? dir : "tests/data", name);
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s (set NRFCA_TEST_DATA)\n", path);
		abort();
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
		abort();
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

unsigned char *vector_read_hex(const char *name, size_t *len)
{
	size_t n;
	char *hex = vector_read(name, &n);
	unsigned char *out;

	while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r' || hex[n - 1] == ' '))
		n--;
	out = malloc(n / 2 + 1);
	if (out == NULL || nrfca_hex_decode(hex, n, out, n / 2) != 0)
		abort();
	free(hex);
	*len = n / 2;
	return out;
}

char *vector_payload(const char *name)
{
	char *t = vector_read(name, NULL);
	char *s = t, *q, *out;

	q = strchr(s, '"');
	if (q != NULL) {
		s = q + 1;
		q = strchr(s, '"');
		if (q == NULL)
			abort();
		*q = '\0';
	}
	s[strcspn(s, "\r\n")] = '\0';
	out = strdup(s);
	free(t);
	return out;
}
