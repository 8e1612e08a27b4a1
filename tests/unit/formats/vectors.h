/* vectors.h - test helpers: the nRF91 vectors of tests/data/vectors. */
#ifndef NRFCA_TEST_FORMATS_VECTORS_H
#define NRFCA_TEST_FORMATS_VECTORS_H

#include <stddef.h>

struct vector {
	const char *file;
	const char *kind;          /* "csr", "public_key", "attestation_token" */
	const char *cn;            /* NULL when part 1 is not a CSR */
	int payload_id;
	const char *uuid;
	long sec_tag;              /* -1: none */
	const char *sha256;        /* NULL: not given */
	const char *nonce;         /* NULL: not given */
};

extern const struct vector test_vectors[];
extern const size_t test_vectors_count;

/* Read tests/data/vectors/<name> (NUL-terminated, malloc'd); aborts when missing. */
char *vector_read(const char *name, size_t *len);
/* Read a .hex vector and decode it (malloc'd). */
unsigned char *vector_read_hex(const char *name, size_t *len);
/* The "<part1>.<part2>" payload of a vector, without prefix or quotes (malloc'd). */
char *vector_payload(const char *name);

#endif
