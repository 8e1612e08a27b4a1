/*
 * obcsv.h - the rows of nRF Cloud's onboarding files, as nrfca reads,
 * checks and writes them.
 *
 * Two shapes, from nRF Cloud's OpenAPI document: OnboardDevices rows
 * `deviceId,subType,tags,fwTypes,"certPem"` and RegisterPublicKeys rows
 * `deviceId,"keyPem"`; no header, no blank lines, deviceId
 * /^[a-z0-9:_-]{1,128}$/i, subType /[a-zA-Z0-9_.,@\/:#-]{0,799}/, tags
 * |-separated /^[a-zA-Z0-9_.@:#-]+$/, fwTypes |-separated of APP, MODEM,
 * BOOT, SOFTDEVICE, BOOTLOADER, MDM_FULL, ES256 (EC P-256) keys.
 *
 * Reading (a file or the station queue): every row is checked and its PEM
 * decoded and encoded again (LF, 64 columns); a file with a bad row is
 * refused whole, naming the first; a device twice is refused; a first row
 * without a PEM is a header row: skipped, still counted in row numbers.
 * Input is bounded (NRFCA_OB_FILE_MAX, fields NRFCA_OB_PEM_MAX); fuzzed by
 * fuzz_nrfcloud.
 *
 * Ownership: a set owns its rows and their strings (nrfca_ob_set_clear).
 */
#ifndef NRFCA_CLIENT_OBCSV_H
#define NRFCA_CLIENT_OBCSV_H

#include <stddef.h>

#include "error.h"
#include "nrfcloud.h"

#define NRFCA_OB_FILE_MAX (64u * 1024u * 1024u)   /* bytes of an input CSV or queue */
#define NRFCA_OB_PEM_MAX 8192u                    /* bytes of one PEM field */

enum nrfca_ob_result {
	NRFCA_OB_PENDING = 0,   /* not done yet */
	NRFCA_OB_OK,            /* onboarded / key registered */
	NRFCA_OB_EXISTS,        /* --check: the device was already onboarded */
	NRFCA_OB_ERROR,         /* nRF Cloud refused this row (message says why) */
	NRFCA_OB_NOT_SENT,      /* not uploaded (key refused, cloud unreachable) */
	NRFCA_OB_UNCONFIRMED,   /* uploaded, but the outcome could not be read */
	NRFCA_OB_RESULT_MAX
};

struct nrfca_ob_row {
	enum nrfcloud_upload_kind kind;
	size_t row;             /* 1-based record number in the file (a header counts) */
	char *id;
	char *text;             /* the row as uploaded, ending in LF */
	size_t text_len;
	enum nrfca_ob_result result;
	char *message;          /* why (results other than OK), or NULL */
	char request[NRFCLOUD_ID_MAX + 1];   /* bulkOpsRequestId, "" when not uploaded */
};

struct nrfca_ob_set {
	struct nrfca_ob_row *rows;
	size_t n;
	int header;             /* a header row was skipped */
	size_t cn_mismatch;     /* certificates whose CN is not the device id */
	size_t cn_example;      /* row of the first such certificate */
};

/* Parse and check the text of a CSV.  kind: NRFCLOUD_ONBOARD_DEVICES or
 * NRFCLOUD_REGISTER_PUBLIC_KEYS for a file given with --csv (rows of the
 * other shape are refused, with a hint), or -1 for the queue (each row's
 * shape says its kind).  name names the file in messages. */
int nrfca_ob_parse(const char *name, const char *text, size_t len, int kind,
		   struct nrfca_ob_set *s, struct nrfca_err *e);
int nrfca_ob_load(const char *path, int kind, struct nrfca_ob_set *s, struct nrfca_err *e);
void nrfca_ob_set_clear(struct nrfca_ob_set *s);

/* The row text of one device: the onboarding row from the certificate, or
 * the public-key row from a PEM public key.  *row is malloc'd. */
int nrfca_ob_cert_row(const char *device_id, const char *sub_type, const char *tags,
		      const char *fw_types, const char *cert_pem, char **row,
		      struct nrfca_err *e);
int nrfca_ob_pubkey_row(const char *device_id, const char *pubkey_pem, char **row,
			struct nrfca_err *e);

/* Write the results CSV: device_id,result,row,bulk_ops_request_id,message. */
int nrfca_ob_write_results(const char *path, const struct nrfca_ob_set *s,
			   struct nrfca_err *e);

/* Set a row's result (ERROR messages accumulate: "first; second"). */
void nrfca_ob_set_result(struct nrfca_ob_row *r, enum nrfca_ob_result res, const char *msg);
const char *nrfca_ob_result_name(enum nrfca_ob_result r);
/* printf into a malloc'd string (NULL when out of memory). */
char *nrfca_ob_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
