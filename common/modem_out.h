/*
 * modem_out.h - decode what an nRF91 modem prints for %KEYGEN and
 * %ATTESTTOKEN, and check the attestation binding.
 *
 * Input forms accepted (surrounding spaces, tabs, CR and LF ignored):
 *   %KEYGEN: "<part1>.<part2>"     the whole response line
 *   %ATTESTTOKEN: "<body>.<cose>"  the whole response line
 *   "<part1>.<part2>"              the quoted string
 *   <part1>.<part2>                the bare payload
 * A final "OK" line after a whole response line is tolerated.
 *
 * Both parts are strict base64url without padding.  Part 1 is kept exactly as
 * decoded (the attested digest is over those bytes).  Part 2 is a COSE_Sign1
 * (tag 18) signed with ES256; for %KEYGEN its payload is
 *   55799([payload id, device UUID, bstr(sec_tag), SHA-256(part 1), nonce])
 * and parsing fails unless the digest equals SHA-256(part 1).  For
 * %ATTESTTOKEN part 1 is the body 55799([1, device UUID, device type,
 * modem FW UUID, nonce]) and the COSE payload is nil: we read this as a
 * detached payload, i.e. the signature covers the body bytes (part 1).
 *
 * The signature can only be verified with the modem's identity public key,
 * which the output does not carry: see nrfca_modem_out_verify_signature.
 *
 * Input is at most NRFCA_MODEM_OUT_MAX bytes; the CBOR reader allocates
 * nothing; the result is one allocation the caller frees.
 */
#ifndef NRFCA_MODEM_OUT_H
#define NRFCA_MODEM_OUT_H

#include <stddef.h>

#include <openssl/evp.h>

#include "error.h"

enum nrfca_modem_kind {
	NRFCA_MODEM_CSR,
	NRFCA_MODEM_PUBLIC_KEY,
	NRFCA_MODEM_ATTEST_TOKEN,
	NRFCA_MODEM_KIND_MAX
};

#define NRFCA_MODEM_OUT_MAX 8192

/* The modem's sec_tags (AT%CMNG, AT%KEYGEN): 0..2147483647.  An attested
 * sec_tag outside this range is refused while parsing. */
#define NRFCA_SEC_TAG_MAX 2147483647UL

#define NRFCA_PAYLOAD_ID_ATTEST 1
#define NRFCA_PAYLOAD_ID_PUBKEY 8
#define NRFCA_PAYLOAD_ID_CSR 9

/* Everything decoded; owned by the caller, free with nrfca_modem_out_free. */
struct nrfca_modem_out {
	enum nrfca_modem_kind kind;
	unsigned char *part1;           /* exact decoded part-1 bytes (CSR DER, SPKI DER or token body) */
	size_t part1_len;
	int payload_id;                 /* 9 CSR, 8 public key, 1 attestation token */
	unsigned char device_uuid[16];
	char device_uuid_str[37];       /* lower-case 8-4-4-4-12 */
	int has_sec_tag;
	unsigned long sec_tag;          /* 0..NRFCA_SEC_TAG_MAX */
	unsigned char digest[32];       /* from the COSE payload (KEYGEN); zero for ATTESTTOKEN */
	unsigned char part1_sha256[32]; /* computed */
	unsigned char nonce[16];
	int device_type;                /* ATTESTTOKEN only, else -1 */
	unsigned char fw_uuid[16];      /* ATTESTTOKEN only */
	char fw_uuid_str[37];           /* ATTESTTOKEN only, else "" */
	int binding_ok;                 /* digest == SHA-256(part1) (KEYGEN); 1 for ATTESTTOKEN when structure valid */
	char *payload;                  /* the bare "<part1>.<part2>" text as given (what a
					   verifier such as nRF Cloud's Identity Service takes) */
	size_t payload_len;
	unsigned char kid[32];          /* unprotected header key id (label 4), when present; at most 32 bytes */
	size_t kid_len;
	int has_kid;

	/* Private, for nrfca_modem_out_verify_signature. */
	unsigned char *sig_structure;   /* CBOR ["Signature1", protected, h'', payload] */
	size_t sig_structure_len;
	unsigned char signature[64];    /* raw r || s */
};

/* Decode and check.  0 ok (*out set); -1 with a message naming what is
 * wrong, including when the digest binding does not hold. */
int nrfca_modem_out_parse(const char *text, size_t len, struct nrfca_modem_out **out,
			  struct nrfca_err *err);

/* Verify the COSE ES256 signature with the modem's identity public key
 * (EC P-256).  0 = the signature verifies. */
int nrfca_modem_out_verify_signature(const struct nrfca_modem_out *m, EVP_PKEY *identity_pub,
				     struct nrfca_err *err);

void nrfca_modem_out_free(struct nrfca_modem_out *m);

/* "csr", "public_key", "attestation_token" */
const char *nrfca_modem_kind_name(enum nrfca_modem_kind k);

/* Lower-case 8-4-4-4-12 form of 16 bytes into out[37]. */
void nrfca_uuid_format(const unsigned char uuid[16], char out[37]);

#endif
