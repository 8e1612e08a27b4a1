/*
 * policy.h - the issuance policy: profiles loaded from a JSON file, and the
 * decision whether one enrollment may be issued under one profile.
 *
 * The server extracts facts (plain strings and integers, filled from the
 * parsed %KEYGEN output, the CSR, the caller's credential and the ledger) and
 * asks nrfca_policy_decide().  The engine answers allow or deny; a deny names
 * a stable rule (nrfca_policy_rule_name) and one sentence naming the values
 * compared.  An allow carries what the certificate builder needs from the
 * profile: validity, subject attributes, extensions, trust bundle, what to do
 * about an existing certificate.
 *
 * Ownership: a `struct nrfca_policy` is immutable once loaded and reference
 * counted (nrfca_policy_ref/unref; see policy_store.h for the process-wide
 * store with atomic reload).  Every pointer the engine hands out (profiles,
 * names, trust bundles, extension tables, decision fields) is borrowed from
 * the policy and stays valid while the caller holds a reference to it.
 *
 * Thread safety: a loaded policy may be used by any number of threads at
 * once; the only mutable state (rate-limit buckets) is locked inside.
 *
 * The file format is documented in policies/README.md.
 */
#ifndef NRFCA_POLICY_H
#define NRFCA_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "error.h"

#define NRFCA_POLICY_FILE_MAX   (1u << 20)   /* policy JSON: 1 MiB */
#define NRFCA_POLICY_LIST_MAX   (16u << 20)  /* device allow/deny list file: 16 MiB */
#define NRFCA_POLICY_DEPTH_MAX  8            /* JSON nesting levels */
#define NRFCA_POLICY_CN_MAX     64           /* nRF Cloud device id limit */
#define NRFCA_POLICY_DETAIL_MAX 320

struct nrfca_policy;   /* opaque, immutable, refcounted */
struct nrfca_profile;  /* opaque, owned by its policy */

/* Stable rule names, in the order they are evaluated. */
enum nrfca_policy_rule {
	NRFCA_RULE_NONE = 0,            /* "" - allowed */
	NRFCA_RULE_PROFILE_UNKNOWN,     /* requested profile does not exist */
	NRFCA_RULE_PROFILE_DISABLED,    /* profile exists, "enabled": false */
	NRFCA_RULE_STATION,             /* caller not in the profile's stations */
	NRFCA_RULE_INPUT,               /* keygen/csr input kind not accepted */
	NRFCA_RULE_ATTESTATION_REQUIRED,
	NRFCA_RULE_ATTESTATION_BINDING, /* COSE digest != SHA-256(part 1) */
	NRFCA_RULE_PAYLOAD_ID,          /* attested payload is not a CSR */
	NRFCA_RULE_ATTESTATION_SIGNATURE, /* no configured identity key verifies it */
	NRFCA_RULE_KEY_TYPE,
	NRFCA_RULE_KEY_CURVE,
	NRFCA_RULE_KEY_SIZE,
	NRFCA_RULE_SUBJECT_ATTRIBUTE,   /* refused requested subject attribute */
	NRFCA_RULE_CN_MISSING,
	NRFCA_RULE_CN_LENGTH,
	NRFCA_RULE_CN_UUID,             /* CN is not the attested device UUID */
	NRFCA_RULE_CN_IMEI_FORM,        /* CN is not nrf-<15 digits> / <15 digits> */
	NRFCA_RULE_LUHN,                /* IMEI check digit wrong */
	NRFCA_RULE_IMEI_MISMATCH,       /* station-read IMEI != IMEI in the CN */
	NRFCA_RULE_CN_PATTERN,
	NRFCA_RULE_SEC_TAG,
	NRFCA_RULE_DENY_LIST,
	NRFCA_RULE_ALLOW_LIST,
	NRFCA_RULE_VALIDITY,            /* requested days over the profile maximum */
	NRFCA_RULE_ON_EXISTING,         /* device already holds an active certificate */
	NRFCA_RULE_RATE_LIMIT,          /* retry_after says when to come back */
	NRFCA_RULE_MAX
};
const char *nrfca_policy_rule_name(enum nrfca_policy_rule r);

enum nrfca_policy_input {
	NRFCA_INPUT_KEYGEN = 0,  /* %KEYGEN output: CSR + COSE attestation */
	NRFCA_INPUT_CSR,         /* plain PKCS#10 (host-generated key) */
	NRFCA_INPUT_MAX
};

enum nrfca_on_existing {
	NRFCA_ON_EXISTING_REJECT = 0,  /* refuse while an active certificate exists */
	NRFCA_ON_EXISTING_REPLAY,      /* same key: hand back the existing certificate */
	NRFCA_ON_EXISTING_SUPERSEDE,   /* issue; the server revokes the old one (superseded) */
	NRFCA_ON_EXISTING_MAX
};
const char *nrfca_on_existing_name(enum nrfca_on_existing m);

/* What the ledger says about the device (by device id = CN), filled by the server. */
enum nrfca_existing {
	NRFCA_EXISTING_UNKNOWN = 0,  /* not looked up: the on_existing rule is skipped */
	NRFCA_EXISTING_NONE,         /* no active certificate */
	NRFCA_EXISTING_SAME_KEY,     /* active certificate for the same public key */
	NRFCA_EXISTING_OTHER_KEY,    /* active certificate for another key */
	NRFCA_EXISTING_MAX
};

/* What the server must do when the decision allows. */
enum nrfca_existing_action {
	NRFCA_ACTION_ISSUE = 0,      /* issue a new certificate */
	NRFCA_ACTION_REPLAY,         /* answer with the existing certificate */
	NRFCA_ACTION_SUPERSEDE,      /* issue, then revoke the existing one (superseded) */
	NRFCA_ACTION_MAX
};

/*
 * Attestation signature check, supplied by the server (typically a wrapper
 * around nrfca_modem_out_verify_signature).  Returns 1 when the COSE
 * signature verifies with `identity_pub`, 0 when it does not, -1 on an
 * internal error (the engine treats -1 like 0 and says so).
 */
typedef int (*nrfca_policy_verify_fn)(void *ctx, EVP_PKEY *identity_pub);

/* Everything the engine decides on.  Zero-initialise, then fill what is known. */
struct nrfca_policy_facts {
	const char *profile;          /* requested profile; NULL or "" = the default */
	const char *station;          /* authenticated caller (credential name / mTLS id) */
	enum nrfca_policy_input input;

	/* the CSR */
	const char *cn;               /* subject CN, NULL when absent */
	const X509_NAME *subject;     /* whole requested subject, may be NULL */
	int key_type;                 /* EVP_PKEY_EC, EVP_PKEY_RSA, EVP_PKEY_ED25519 ... */
	int curve_nid;                /* EC curve NID, NID_undef otherwise */
	int key_bits;

	/* the attestation (%KEYGEN COSE_Sign1) */
	int has_attestation;
	int binding_ok;               /* COSE digest equals SHA-256 of part 1 */
	const char *attested_uuid;    /* lower-case 8-4-4-4-12 */
	int has_sec_tag;
	uint64_t sec_tag;
	int payload_id;               /* 9 CSR, 8 public key */
	nrfca_policy_verify_fn verify;
	void *verify_ctx;

	/* what the station says it read from the modem (AT+CGSN), NULL if not sent */
	const char *imei;

	/* the ledger */
	enum nrfca_existing existing;

	/* the request: 0 = profile default */
	int requested_days;

	/* 1: nothing will be signed (dry run, replay of an issued CSR): the rate
	 * limit is not charged */
	int no_charge;
};

struct nrfca_policy_ext {
	int basic_constraints;        /* always CA:FALSE when present */
	int basic_constraints_critical;
	unsigned key_usage;           /* X509v3_KU_* bits (openssl/x509v3.h); 0 = no extension */
	int key_usage_critical;
	size_t n_eku;
	const char *const *eku;       /* OID text or short names, each accepted by OBJ_txt2obj */
	int eku_critical;
	int subject_key_id;
	int authority_key_id;
	/* URLs (http, https or ldap) put into cRLDistributionPoints and
	 * authorityInfoAccess caIssuers; n = 0: no extension */
	size_t n_crl_dp;
	const char *const *crl_dp;
	size_t n_ca_issuers;
	const char *const *ca_issuers;
};

struct nrfca_policy_decision {
	int allow;
	enum nrfca_policy_rule rule;  /* NRFCA_RULE_NONE when allowed */
	const char *rule_name;        /* nrfca_policy_rule_name(rule) */
	char detail[NRFCA_POLICY_DETAIL_MAX];
	unsigned retry_after;         /* seconds, for NRFCA_RULE_RATE_LIMIT */

	/* set whenever a profile was chosen (also on most denials) */
	const struct nrfca_profile *profile;
	const char *profile_name;

	/* set on allow */
	char device_id[NRFCA_POLICY_CN_MAX + 1];  /* the CN to certify */
	char imei[16];                /* IMEI named by the CN or sent by the station, "" if none */
	int validity_days;
	enum nrfca_on_existing on_existing;
	enum nrfca_existing_action action;
	const char *trust_bundle;     /* PEM text, AWS first for CoAP */
	size_t trust_bundle_len;
	const struct nrfca_policy_ext *ext;
};

/* Load and validate a policy file.  Every mistake is refused with
 * "<file>: <JSON path>: <reason>" (code NRFCA_E_CONFIG, or NRFCA_E_TOO_LARGE,
 * NRFCA_E_IO).  On success *out holds one reference. */
int nrfca_policy_load_file(const char *path, struct nrfca_policy **out, struct nrfca_err *err);
/* The same from bytes in memory; relative paths resolve against base_dir;
 * `name` is used in messages. */
int nrfca_policy_load_buffer(const void *buf, size_t len, const char *name,
			     const char *base_dir, struct nrfca_policy **out,
			     struct nrfca_err *err);
struct nrfca_policy *nrfca_policy_ref(struct nrfca_policy *p);
void nrfca_policy_unref(struct nrfca_policy *p);

/* `nrfca-admin policy check FILE`: load, print a summary of every profile to
 * `report` (may be NULL) and return 0, or print the error and return -1. */
int policy_check_file(const char *path, FILE *report, struct nrfca_err *err);

/* Decide one enrollment.  Always fills *d (also on deny).  Returns 0 when
 * allowed, -1 when denied (err gets NRFCA_E_POLICY and the same sentence).
 * -1 with d->rule NRFCA_RULE_NONE is no verdict: the shared rate-limit
 * counters (policy_store_share_rate_limits) failed; err says why (e.g.
 * NRFCA_E_DB: answer "retry later"). */
int nrfca_policy_decide(const struct nrfca_policy *p, const struct nrfca_policy_facts *f,
			struct nrfca_policy_decision *d, struct nrfca_err *err);

/* Profiles, e.g. for GET /v1/profiles. */
size_t nrfca_policy_profile_count(const struct nrfca_policy *p);
const struct nrfca_profile *nrfca_policy_profile_at(const struct nrfca_policy *p, size_t i);
const struct nrfca_profile *nrfca_policy_profile_find(const struct nrfca_policy *p,
						      const char *name);
const struct nrfca_profile *nrfca_policy_default_profile(const struct nrfca_policy *p);
const char *nrfca_policy_path(const struct nrfca_policy *p);
/* SHA-256 of the policy file's bytes as they were loaded (32 bytes), so an
 * audit entry names exactly which file is in force. */
const unsigned char *nrfca_policy_sha256(const struct nrfca_policy *p);

const char *nrfca_profile_name(const struct nrfca_profile *pr);
const char *nrfca_profile_description(const struct nrfca_profile *pr);
int nrfca_profile_enabled(const struct nrfca_profile *pr);
/* 1 when `station` may use the profile (no "stations" list = everybody). */
int nrfca_profile_station_allowed(const struct nrfca_profile *pr, const char *station);
const char *nrfca_profile_trust_bundle(const struct nrfca_profile *pr, size_t *len);
const struct nrfca_policy_ext *nrfca_profile_extensions(const struct nrfca_profile *pr);
/* The subject of an issued certificate: the profile's fixed attributes in
 * file order, then CN=cn.  *out is new; the caller frees it. */
int nrfca_profile_subject(const struct nrfca_profile *pr, const char *cn, X509_NAME **out,
			  struct nrfca_err *err);

/* Helpers the engine uses, exported for the station client and tests. */
int nrfca_luhn_ok(const char *digits15);
int nrfca_is_uuid_lower(const char *s);

#endif
