/*
 * provision.h - `nrfca provision`: the whole flow on one modem.
 *
 * The flow is a table of steps (open, firmware, offline, identity, existing
 * credentials, key generation, enrollment, local check, write, read-back,
 * finish), each a function over one context, run in order by
 * nrfca_provision; every step is timed for the report.  See cmd_provision.c
 * for the command line and issue 6 / DESIGN.md for the contract.
 *
 * Key facts:
 * - The key is made inside the modem (%KEYGEN) unless host_key is set; the
 *   %KEYGEN output is kept in the station journal (journal.h) until the
 *   device is provisioned, so a rerun after a failure re-sends the same CSR
 *   and the CA replays its certificate: never a second key or certificate.
 * - A certificate is written only after it was checked locally (its public
 *   key equals the CSR's, it chains to the CA's chain).
 * - The host-key path generates a P-256 key on the station, writes it as
 *   PKCS#8 PEM (type 2), keeps no copy on disk and wipes it from memory.
 *
 * Ownership: options are borrowed; the result is plain data.
 */
#ifndef NRFCA_CLIENT_PROVISION_H
#define NRFCA_CLIENT_PROVISION_H

#include <stdint.h>

#include "caclient.h"
#include "error.h"
#include "nrf91.h"
#include "progress.h"

#define NRFCA_PROV_DEFAULT_SEC_TAG 16842753u
#define NRFCA_ONBOARD_MAX_ROWS 1000u            /* nRF Cloud's limit per CSV file */
#define NRFCA_CSV_MAX (8u * 1024u * 1024u)     /* bytes of an existing CSV we read */

struct nrfca_prov_result;

struct nrfca_prov_opts {
	struct nrf91_opts modem;
	struct nrfca_ca_opts ca;
	uint32_t sec_tag;
	const char *id;            /* NULL or "uuid", "imei", "nrf-imei", or a fixed CN */
	const char *profile;       /* NULL = the server's default ("host-key" with host_key) */
	const char *slot;          /* the fixture slot sent with the request; NULL = none */
	int replace, online, host_key;
	enum nrf91_eol eol;
	const char *journal_dir;   /* required unless host_key */
	const char *csv, *devinfo, *report;   /* may be NULL */
	int report_append;         /* report: append one JSON line (several modems share
				      the file, nrfca line) instead of writing a document */
	const char *sub_type;      /* onboarding subType; NULL = empty */
	const char *tags;          /* pipe-delimited; NULL = empty */
	const char *fw_types;      /* NULL = "APP|MODEM" */
	struct nrfca_progress *progress;
	/* Called once the device is provisioned, with the certificate written
	 * (PEM) or, for a public-key registration, the attested public key
	 * (PEM, cert_pem NULL); e.g. prov_cloud.h queues it for nRF Cloud. */
	void (*on_done)(void *ctx, const struct nrfca_prov_result *r, const char *cert_pem,
			const char *pubkey_pem);
	void *on_done_ctx;
	/* Called before each step (1..NRFCA_PROV_STEPS) with what is known of
	 * the device so far (IMEI, UUID, device id as they are read); from the
	 * thread running the flow.  May be NULL. */
	void (*on_step)(void *ctx, unsigned n, const struct nrfca_prov_result *r);
	void *on_step_ctx;
};

#define NRFCA_PROV_STEPS 11

struct nrfca_prov_result {
	char device_id[65], imei[16], uuid[37], serial[65], firmware[64], profile[65];
	char ca_hash[65], cert_hash[65];  /* SHA-256 of what was written (hex) */
	int resumed;                      /* the CSR came from the journal */
	int replay;                       /* the CA answered 200 (replay) */
	int online;
	double seconds;
	char modem_state[300];            /* on failure: what the modem holds now */
};

/* Run the flow.  Returns the exit status (exitcodes.h); on failure e says
 * what went wrong and what state the modem was left in.  Several flows may
 * run at once in one process, on different ports (nrfca line): the CSV,
 * devinfo and report files they share are appended under a file lock. */
int nrfca_provision(const struct nrfca_prov_opts *o, struct nrfca_prov_result *r,
		    struct nrfca_err *e);

/* The preflight alone, no modem: the station's credential, the profile and
 * what it accepts (--id form, sec_tag) with the CA.  Returns the exit status
 * a run would stop with (0: go); *profile (may be NULL) gets the profile's
 * name. */
int nrfca_provision_check(const struct nrfca_prov_opts *o, char *profile, size_t cap,
			  struct nrfca_err *e);

/* Short name of step n (1-based), e.g. "keygen"; "?" out of range. */
const char *nrfca_provision_step_name(unsigned n);
/* What an interrupted run most likely left in the modem when it stopped
 * in step n (for a line that stops at once). */
const char *nrfca_provision_state_at(unsigned n);

/* One nRF Cloud onboarding CSV row: device_id,subType,tags,fwTypes,"PEM"
 * with the PEM's line endings converted to LF and a final LF after the
 * closing quote.  Refuses fields holding ',', '"' or control characters.
 * *row is malloc'd. */
int nrfca_onboard_row(const char *device_id, const char *sub_type, const char *tags,
		      const char *fw_types, const char *cert_pem, char **row,
		      struct nrfca_err *e);

/* Count the records of a CSV text (quoted fields may span lines) and tell
 * whether one has `key` as first field.  -1 when malformed. */
int nrfca_csv_scan(const char *text, size_t len, const char *key, size_t *rows,
		   int *has_key, struct nrfca_err *e);

#endif
