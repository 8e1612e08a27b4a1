/*
 * preflight.h - what the station checks with the CA before it touches a
 * modem: that its credential works, that the profile exists for it, and
 * that the device id form (--id) and sec_tag are ones the profile accepts.
 *
 * The CA describes each profile in GET /v1/profiles (ca-server/http.c):
 *   {"profiles": [{"name", "default", "trust_bundle",
 *                  "cn": {"source": "attested_uuid"|"imei"|"pattern"|"any",
 *                         "imei_forms": ["nrf-imei", "imei"], "pattern", "max_length"},
 *                  "sec_tags": [16842753, "1-5"], "input": ["keygen", "csr"]}]}
 * A server that does not describe "cn", "sec_tags" or "input" is not
 * second-guessed: those checks are skipped and the CA decides at enrollment.
 *
 * Checks return -1 with e naming the rule the CA would apply (the same
 * names as its refusals: cn_uuid, cn_imei_form, luhn, imei_mismatch,
 * cn_pattern, cn_length, sec_tag, input) and what to change.
 *
 * Ownership: a profile owns its strings and compiled pattern
 * (nrfca_station_profile_clear).
 */
#ifndef NRFCA_CLIENT_PREFLIGHT_H
#define NRFCA_CLIENT_PREFLIGHT_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define NRFCA_PREFLIGHT_MAX_PROFILES 64
#define NRFCA_PREFLIGHT_MAX_RANGES 64

struct nrfca_station_profile {
	char name[65];
	char cn_source[16];       /* "" when the CA does not say */
	int imei_nrf, imei_bare;  /* forms allowed with source "imei" */
	char *pattern;            /* NULL = none */
	regex_t re;
	int has_re;
	int cn_max;               /* 0 = not said */
	int sec_tags_known;       /* 0: the CA does not describe them */
	size_t n_ranges;          /* 0 with sec_tags_known = none allowed */
	uint64_t lo[NRFCA_PREFLIGHT_MAX_RANGES], hi[NRFCA_PREFLIGHT_MAX_RANGES];
	int inputs_known, input_keygen, input_csr;
	char *trust_bundle;       /* NULL = none */
	char others[400];         /* names of the profiles offered, for messages */
};

/* Pick `name` (NULL = the CA's default) from a GET /v1/profiles answer
 * (at most 256 KiB of JSON, at most NRFCA_PREFLIGHT_MAX_PROFILES profiles).
 * -1 with e when the answer is malformed (NRFCA_E_INPUT) or the profile is
 * not offered to this station (NRFCA_E_NOTFOUND). */
int nrfca_preflight_pick(const char *json, size_t len, const char *name,
			 struct nrfca_station_profile *out, struct nrfca_err *e);
void nrfca_station_profile_clear(struct nrfca_station_profile *p);

/* Before the modem is touched: does the profile take this input kind,
 * sec_tag and --id form (NULL, "uuid", "imei", "nrf-imei" or a fixed CN)? */
int nrfca_preflight_request(const struct nrfca_station_profile *p, int host_key,
			    uint32_t sec_tag, const char *id, struct nrfca_err *e);

/* Once IMEI and UUID are read, before the key is made: does the CN the
 * station will ask for pass the profile's rule?  cn NULL = the modem's
 * default subject (the device UUID); uuid "" when unknown (then a UUID rule
 * is left to the CA). */
int nrfca_preflight_cn(const struct nrfca_station_profile *p, const char *cn,
		       const char *imei, const char *uuid, struct nrfca_err *e);

#endif
