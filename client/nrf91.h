/*
 * nrf91.h - operations on an nRF91 modem, for the provisioning flow and
 * `nrfca creds`.
 *
 * Offers: open a modem on a serial port (port + AT engine + CMEE=1), read
 * its identity (firmware, IMEI, device UUID, model), CFUN, %CMNG list /
 * write / delete, %KEYGEN and %ATTESTTOKEN.  Each operation is a step in a
 * table (command template, timeout, which answer line to extract and how to
 * check it, what each CME error means for it) run by one interpreter in
 * nrf91.c; nothing here reads the port by hand.
 *
 * Failures return -1 with e set to one sentence naming the command and the
 * reason; nrf91_last_failure tells the caller which kind it was (to choose
 * an exit status).  Pure helpers (firmware parsing, Luhn, %CMNG line
 * parsing, content preparation) need no modem.
 *
 * Ownership: struct nrf91 owns the port and engine it opened; strings
 * returned through char ** are the caller's to free (secrets are not
 * returned by anything here).
 */
#ifndef NRFCA_CLIENT_NRF91_H
#define NRFCA_CLIENT_NRF91_H

#include <stddef.h>
#include <stdint.h>

#include "at.h"
#include "error.h"

#define NRF91_SEC_TAG_MAX 2147483647u   /* larger sec_tags belong to the modem */
#define NRF91_CRED_SIZE_MAX 8192u            /* bytes of content nrfca writes with %CMNG */
#define NRF91_MAX_CREDS 256u            /* entries accepted from one %CMNG list */

/* Why the last operation failed. */
enum nrf91_fail {
	NRF91_FAIL_NONE = 0,
	NRF91_FAIL_PORT,       /* no answer, timeout, port closed, I/O */
	NRF91_FAIL_REFUSED,    /* ERROR / +CME ERROR / +CMS ERROR */
	NRF91_FAIL_ANSWER,     /* OK, but the answer was not what the command gives */
	NRF91_FAIL_INPUT,      /* our own argument was invalid; nothing was sent */
	NRF91_FAIL_WRONG_MODE, /* the port answers in the other mode (Zephyr shell vs plain AT) */
	NRF91_FAIL_IDENTITY,   /* the modem's identity (IMEI) is not of the right form */
	NRF91_FAIL_TOO_LONG,   /* the command does not fit the shell's buffer; nothing was sent */
	NRF91_FAIL_MAX
};

enum nrf91_family { NRF91_FAMILY_UNKNOWN = 0, NRF91_FAMILY_9160, NRF91_FAMILY_91X1,
		    NRF91_FAMILY_MAX };

struct nrf91_fw {
	char raw[64];          /* as the modem gave it, e.g. mfw_nrf91x1_2.0.2 */
	enum nrf91_family family;
	unsigned major, minor, patch;
	int ntn;               /* a non-terrestrial-network build ("ntn" in the name) */
};

/* %CMNG credential types. */
enum nrf91_cred_type {
	NRF91_CRED_CA_CERT = 0,
	NRF91_CRED_CLIENT_CERT = 1,
	NRF91_CRED_CLIENT_KEY = 2,
	NRF91_CRED_PSK = 3,
	NRF91_CRED_PSK_ID = 4,
	NRF91_CRED_PUBLIC_KEY = 5,
	NRF91_CRED_IDENTITY_KEY = 6,
	NRF91_CRED_MAX
};

struct nrf91_cred {
	uint32_t sec_tag;
	int type;              /* enum nrf91_cred_type, or another number the modem gave */
	int has_hash;
	char sha256[65];       /* upper-case hex, when has_hash */
};

enum nrf91_eol { NRF91_EOL_CRLF = 0, NRF91_EOL_LF, NRF91_EOL_MAX };

struct nrf91_opts {
	struct nrfca_serial_opts port;
	struct nrfca_at_opts at;
};

struct nrf91_keygen_req {
	uint32_t sec_tag;
	int content;           /* 0 = CSR, 1 = public key */
	const char *attributes;/* e.g. "CN=nrf-352656109480783"; NULL = modem default subject */
	const char *key_usage; /* nine 0/1 characters; NULL = modem default; needs attributes */
};

struct nrf91;

/* Open the port, create the engine (detecting the prefix when AUTO) and
 * switch on numeric errors (AT+CMEE=1). */
int nrf91_open(const struct nrf91_opts *o, struct nrf91 **out, struct nrfca_err *e);
/* Use an existing engine (tests); the engine stays the caller's. */
int nrf91_attach(struct nrfca_at *at, struct nrf91 **out, struct nrfca_err *e);
void nrf91_close(struct nrf91 *m);

enum nrf91_fail nrf91_last_failure(const struct nrf91 *m);
/* The station exit status (exitcodes.h) for the last failure. */
int nrf91_failure_exit(const struct nrf91 *m);
/* Final line of the last command and its CME code (for callers that map
 * specific codes, e.g. 513 on delete). */
enum nrfca_at_final nrf91_last_final(const struct nrf91 *m, int *code);
struct nrfca_at *nrf91_engine(struct nrf91 *m);

int nrf91_cmee_enable(struct nrf91 *m, struct nrfca_err *e);
int nrf91_read_fw(struct nrf91 *m, struct nrf91_fw *fw, struct nrfca_err *e);
int nrf91_read_imei(struct nrf91 *m, char imei[16], struct nrfca_err *e);
int nrf91_read_uuid(struct nrf91 *m, char uuid[37], struct nrfca_err *e);
int nrf91_read_model(struct nrf91 *m, char model[64], struct nrfca_err *e);
int nrf91_cfun_get(struct nrf91 *m, int *mode, struct nrfca_err *e);
int nrf91_cfun_set(struct nrf91 *m, int mode, struct nrfca_err *e);

/* List credentials, without the modem's own sec_tags (> 2147483647).
 * *list is the caller's to free. */
int nrf91_cmng_list(struct nrf91 *m, struct nrf91_cred **list, size_t *n,
		    struct nrfca_err *e);
/* Write content (a PEM for types 0, 1, 2, 5; text for 3, 4) with eol
 * applied; sha256_hex receives the SHA-256 of the bytes the modem stores,
 * upper-case hex.  In plain AT those are the bytes between the quotes;
 * through a Zephyr shell the line breaks travel as \n and the firmware
 * stores CR LF whatever eol says, so the hash is over the CR LF text.  Types
 * 2 and 3 are secrets: redacted in the trace and wiped after sending.  Type 2
 * is for the host-key path only (`nrfca creds write` refuses it: keys
 * normally stay made by %KEYGEN). */
int nrf91_cmng_write(struct nrf91 *m, uint32_t sec_tag, int type, const char *content,
		     size_t len, enum nrf91_eol eol, char sha256_hex[65], struct nrfca_err *e);
/* 0 when nrf91_cmng_write of this content can be sent in the current mode
 * (through a shell: the line fits the shell's command buffer); -1 with e
 * naming the sizes otherwise (failure NRF91_FAIL_TOO_LONG).  Sends nothing. */
int nrf91_cmng_fits(struct nrf91 *m, uint32_t sec_tag, int type, const char *content,
		    size_t len, enum nrf91_eol eol, struct nrfca_err *e);
/* The line ending the modem stores for a write in the current mode. */
enum nrf91_eol nrf91_stored_eol(const struct nrf91 *m, enum nrf91_eol eol);
int nrf91_cmng_delete(struct nrf91 *m, uint32_t sec_tag, int type, struct nrfca_err *e);

/* %KEYGEN; *payload receives what is inside the quotes of the
 * `%KEYGEN: "..."` line (caller frees). */
int nrf91_keygen(struct nrf91 *m, const struct nrf91_keygen_req *req, char **payload,
		 struct nrfca_err *e);
/* %ATTESTTOKEN; *payload as for nrf91_keygen. */
int nrf91_attesttoken(struct nrf91 *m, char **payload, struct nrfca_err *e);

/* ---- helpers without a modem ---- */

/* Parse an AT+CGMR answer; -1 when it holds no or several N.N.N groups. */
int nrf91_fw_parse(const char *s, struct nrf91_fw *fw, struct nrfca_err *e);
int nrf91_fw_supports_keygen(const struct nrf91_fw *fw);   /* 9160 >= 1.3.0, 91x1 >= 2.0.0 */
int nrf91_fw_shows_hashes(const struct nrf91_fw *fw);      /* 9160 >= 1.3.2, all 91x1 */
const char *nrf91_family_name(enum nrf91_family f);

/* 15 digits whose last is the Luhn check digit. */
int nrf91_imei_valid(const char *imei);

/* One `%CMNG: <tag>,<type>[,"<hash>"]` line.  Returns 0 with *cred set,
 * 1 when the line is valid but belongs to the modem (tag > 2147483647),
 * -1 with e set when malformed. */
int nrf91_cmng_parse_line(const char *line, struct nrf91_cred *cred, struct nrfca_err *e);

/* Content as it will be sent: line endings of a PEM (types 0, 1, 2, 5)
 * converted to eol, text (3, 4) without its trailing newline.  Refuses a
 * `"`, control characters, NUL, non-ASCII, a PEM without BEGIN/END and
 * more than NRF91_CRED_SIZE_MAX bytes.  *out is the caller's (wipe it for 3). */
int nrf91_cmng_prepare(int type, const char *content, size_t len, enum nrf91_eol eol,
		       char **out, size_t *outlen, struct nrfca_err *e);

const char *nrf91_cred_type_name(int type);
/* "0".."6" or a name ("ca-cert", "client-cert", ...); -1 if neither. */
int nrf91_cred_type_parse(const char *s);
const char *nrf91_eol_name(enum nrf91_eol eol);

#endif
