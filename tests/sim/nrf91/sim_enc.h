/*
 * sim_enc.h - the simulator's own small encoders: CBOR (RFC 8949, definite
 * lengths only) and DER (X.690) into a struct sbuf.
 *
 * The simulator deliberately does not use the project's CBOR decoder: it
 * is the independent peer the decoder is tested against.
 */
#ifndef SIM_ENC_H
#define SIM_ENC_H

#include "sim_buf.h"

/* CBOR major types */
enum cbor_major {
	CBOR_UINT = 0,
	CBOR_NINT = 1,
	CBOR_BSTR = 2,
	CBOR_TSTR = 3,
	CBOR_ARRAY = 4,
	CBOR_MAP = 5,
	CBOR_TAG = 6,
	CBOR_SIMPLE = 7,
};

void cbor_head(struct sbuf *b, enum cbor_major major, uint64_t arg);
void cbor_uint(struct sbuf *b, uint64_t v);
void cbor_bstr(struct sbuf *b, const uint8_t *p, size_t n);
void cbor_tstr(struct sbuf *b, const char *s);
void cbor_null(struct sbuf *b);

/* DER: the content is passed in whole; the header is computed. */
#define DER_INTEGER 0x02
#define DER_BITSTRING 0x03
#define DER_OCTETSTRING 0x04
#define DER_NULL 0x05
#define DER_OID 0x06
#define DER_UTF8STRING 0x0c
#define DER_PRINTABLESTRING 0x13
#define DER_SEQUENCE 0x30
#define DER_SET 0x31
#define DER_CTX0_CONS 0xa0

void der_tlv(struct sbuf *b, uint8_t tag, const uint8_t *content, size_t n);
/* Wrap a buffer's bytes in a TLV appended to b. */
void der_wrap(struct sbuf *b, uint8_t tag, const struct sbuf *content);

#endif
