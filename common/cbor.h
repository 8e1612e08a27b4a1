/*
 * cbor.h - a small, bounded, pull-style CBOR reader (RFC 8949) for COSE.
 *
 * A cursor walks a const buffer owned by the caller; nothing is allocated and
 * nothing is copied.  String items point into the buffer.  Every declared
 * length is checked against the bytes that remain before it is believed (an
 * array of n items needs at least n bytes, a map of n pairs 2n), so a hostile
 * length fails at once instead of driving a loop or an allocation.  Skipping
 * a nested item recurses at most NRFCA_CBOR_MAX_DEPTH levels.
 *
 * Accepted: definite-length items of every major type, tags, simple values
 * and floats (read as opaque).  Refused with a message: indefinite lengths
 * (COSE from the modem never uses them), reserved additional-information
 * values 28..30, a stray "break", and anything that would read past the end.
 *
 * Also a tiny encoder of item heads, enough to build a COSE Sig_structure.
 */
#ifndef NRFCA_CBOR_H
#define NRFCA_CBOR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define NRFCA_CBOR_MAX_DEPTH 16

enum nrfca_cbor_type {
	NRFCA_CBOR_UINT,    /* major 0: value in u */
	NRFCA_CBOR_NINT,    /* major 1: the number is -1 - u */
	NRFCA_CBOR_BSTR,    /* major 2: data, len */
	NRFCA_CBOR_TSTR,    /* major 3: data, len (UTF-8 not checked) */
	NRFCA_CBOR_ARRAY,   /* major 4: u items follow */
	NRFCA_CBOR_MAP,     /* major 5: u pairs follow */
	NRFCA_CBOR_TAG,     /* major 6: tag number u, one item follows */
	NRFCA_CBOR_SIMPLE,  /* major 7: simple value u (20 false, 21 true, 22 null, 23 undefined) */
	NRFCA_CBOR_FLOAT,   /* major 7: half/single/double; raw bits in u */
	NRFCA_CBOR_TYPE_MAX
};

#define NRFCA_CBOR_SIMPLE_FALSE 20
#define NRFCA_CBOR_SIMPLE_TRUE 21
#define NRFCA_CBOR_SIMPLE_NULL 22
#define NRFCA_CBOR_SIMPLE_UNDEFINED 23

struct nrfca_cbor {
	const uint8_t *base; /* first byte, for offsets in messages */
	const uint8_t *p;    /* next byte */
	const uint8_t *end;  /* one past the last byte */
};

struct nrfca_cbor_item {
	enum nrfca_cbor_type type;
	uint64_t u;              /* value, count, tag number or simple value */
	const uint8_t *data;     /* BSTR/TSTR contents, inside the cursor's buffer */
	size_t len;              /* BSTR/TSTR length */
	const uint8_t *start;    /* first byte of the head, for callers that keep raw spans */
};

void nrfca_cbor_init(struct nrfca_cbor *c, const void *buf, size_t len);
size_t nrfca_cbor_remaining(const struct nrfca_cbor *c);
int nrfca_cbor_at_end(const struct nrfca_cbor *c);

/* Read one head (and, for strings, step over the contents).  Arrays, maps
 * and tags leave the cursor on their first contained item. */
int nrfca_cbor_read(struct nrfca_cbor *c, struct nrfca_cbor_item *it, struct nrfca_err *err);

/* Look at the next head without moving. */
int nrfca_cbor_peek(const struct nrfca_cbor *c, struct nrfca_cbor_item *it, struct nrfca_err *err);

/* Step over one complete data item (with everything it contains). */
int nrfca_cbor_skip(struct nrfca_cbor *c, struct nrfca_err *err);

/* Check that buf holds exactly one well-formed item and nothing after it. */
int nrfca_cbor_validate(const void *buf, size_t len, struct nrfca_err *err);

/*
 * Typed reads: each reads one item and fails with "expected X, found Y" when
 * it is something else.  `what` names the field for the message ("COSE
 * protected header").
 */
int nrfca_cbor_expect_tag(struct nrfca_cbor *c, uint64_t tag, const char *what,
			  struct nrfca_err *err);
int nrfca_cbor_expect_array(struct nrfca_cbor *c, uint64_t *count, const char *what,
			    struct nrfca_err *err);
int nrfca_cbor_expect_map(struct nrfca_cbor *c, uint64_t *count, const char *what,
			  struct nrfca_err *err);
int nrfca_cbor_expect_bstr(struct nrfca_cbor *c, const uint8_t **data, size_t *len,
			   const char *what, struct nrfca_err *err);
int nrfca_cbor_expect_uint(struct nrfca_cbor *c, uint64_t *v, const char *what,
			   struct nrfca_err *err);
/* An integer of either sign that fits int64_t. */
int nrfca_cbor_expect_int(struct nrfca_cbor *c, int64_t *v, const char *what,
			  struct nrfca_err *err);

/* "a byte string of 5 bytes", "tag 17", "unsigned integer 3", "null" ... */
void nrfca_cbor_describe(const struct nrfca_cbor_item *it, char *buf, size_t cap);

/* Encode a head of major type `major` (0..7) with argument v into out
 * (at least 9 bytes).  Returns the number of bytes written. */
size_t nrfca_cbor_put_head(uint8_t *out, unsigned major, uint64_t v);

#endif
