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
#define NRFCA_POLICY_SEC_TAG_MAX 2147483647UL /* the modem's sec_tag range is 0..this */

struct nrfca_policy;   /* opaque, immutable, refcounted */
struct nrfca_profile;  /* opaque, owned by its policy */

/* Stable rule names, in the order they are evaluated. */
enum nrfca_policy_rule {
	NRFCA_RULE_NONE = 0,            /* "" - allowed */
	NRFCA_RULE_PROFILE_UNKNOWN,     /* requested profile does not exist */
	NRFCA_RULE_PROFILE_DISABLED,    /* profile exists, "enabled": false */
	NRFCA_RULE_STATION,             /* caller not in the profile's stations or groups */
	NRFCA_RULE_INPUT,               /* keygen/csr/public-key input kind not accepted */
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
	NRFCA_RULE_KNOWN_DEVICE,        /* require_known_device: not imported for the station */
	NRFCA_RULE_VALIDITY,            /* requested days over the profile maximum */
	NRFCA_RULE_ATTESTATION_IDENTITY, /* the identity service says forged / unknown device */
	NRFCA_RULE_IDENTITY_UNAVAILABLE, /* the identity service did not answer (503) */
	NRFCA_RULE_ON_EXISTING,         /* device already holds an active certificate */
	NRFCA_RULE_SUPERSEDE_SCOPE,     /* that certificate came through a station out of scope */
	NRFCA_RULE_RATE_LIMIT,          /* retry_after says when to come back */
	NRFCA_RULE_SUPERSEDE_RATE,      /* the station's supersede budget is spent */
	NRFCA_RULE_MAX
};
const char *nrfca_policy_rule_name(enum nrfca_policy_rule r);

enum nrfca_policy_input {
	NRFCA_INPUT_KEYGEN = 0,  /* %KEYGEN output: CSR + COSE attestation */
	NRFCA_INPUT_CSR,         /* plain PKCS#10 (host-generated key) */
	NRFCA_INPUT_PUBLIC_KEY,  /* %KEYGEN public key (AT%KEYGEN=<tag>,2,1) + COSE attestation */
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

/* Which stations may supersede (and receive again) a certificate issued
 * through another station ("supersede_from"). */
enum nrfca_supersede_from {
	NRFCA_SUPERSEDE_SAME_STATION = 0, /* only the station it was issued through */
	NRFCA_SUPERSEDE_STATION_GROUP,    /* also stations sharing a group with it */
	NRFCA_SUPERSEDE_ANY,              /* any station allowed to use the profile */
	NRFCA_SUPERSEDE_FROM_MAX
};
const char *nrfca_supersede_from_name(enum nrfca_supersede_from s);

/* Whether the device is on the expected-device list of the caller (its
 * station or one of its groups), looked up by the server for profiles with
 * require_known_device. */
enum nrfca_known {
	NRFCA_KNOWN_NOT_LOOKED_UP = 0,  /* refused by a profile that requires the list */
	NRFCA_KNOWN_YES,
	NRFCA_KNOWN_NO,
	NRFCA_KNOWN_MAX
};

/* The answer of nRF Cloud's Identity Service about one attestation
 * ("attestation": {"verify_with": "nrf-cloud-identity"}). */
enum nrfca_identity_verdict {
	NRFCA_IDENTITY_NOT_ASKED = 0,   /* the profile does not ask the service */
	NRFCA_IDENTITY_GENUINE,         /* signed by the device's identity key */
	NRFCA_IDENTITY_FORGED,          /* the signature does not verify (or another device) */
	NRFCA_IDENTITY_UNKNOWN_DEVICE,  /* the service holds no identity key for the UUID */
	NRFCA_IDENTITY_UNAVAILABLE,     /* no usable answer (timeout, 5xx, refused key ...) */
	NRFCA_IDENTITY_MAX
};
/* "not_asked", "genuine", "forged", "unknown_device", "unavailable" */
const char *nrfca_identity_verdict_name(enum nrfca_identity_verdict v);

/*
 * Ask the identity service about the request's attestation, supplied by the
 * server (ca-server/identity.h).  Returns the verdict; `detail` (len bytes)
 * gets one sentence for the refusal or the log, `retry_after` seconds for
 * NRFCA_IDENTITY_UNAVAILABLE.  Called at most once per decision, and only
 * when every cheaper rule allows.
 */
typedef enum nrfca_identity_verdict (*nrfca_policy_identity_fn)(void *ctx, char *detail,
								size_t len,
								unsigned *retry_after);

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

	/* the caller's station groups (from its credential), may be empty */
	const char *const *groups;
	size_t n_groups;

	/* the ledger: the device's active certificate (or, with csr_replay, the
	 * certificate issued earlier for this very CSR) */
	enum nrfca_existing existing;
	const char *existing_serial;          /* for messages; may be NULL */
	const char *existing_station;         /* the station it was issued through;
						 NULL = unknown (treated as another station) */
	const char *const *existing_groups;   /* that station's groups */
	size_t n_existing_groups;
	int csr_replay;                       /* 1: this CSR was certified before: the
						 answer is that certificate (action replay)
						 if the caller is in its station scope */

	/* expected devices (profiles with require_known_device) */
	enum nrfca_known known_device;

	/* the identity service (profiles with attestation.verify_with) */
	nrfca_policy_identity_fn identity;
	void *identity_ctx;

	/* the request: 0 = profile default */
	int requested_days;

	/* 1: nothing will be signed (dry run, replay of an issued CSR): the rate
	 * limit is not charged */
	int no_charge;
	/* 1: the supersede budget was already charged for this request (a retry
	 * after the device's state changed) */
	int no_charge_supersede;
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

	/* the identity service's verdict (also on denials after it was asked) */
	enum nrfca_identity_verdict identity_verdict;
	/* on allow: how the attestation was judged, for the audit entry: "none"
	 * (no attestation), "binding" (digest binding, signature not checked),
	 * "identity_keys" (verified with a configured key),
	 * "nrf-cloud-identity:genuine" or "nrf-cloud-identity:unavailable"
	 * (issued under on_unavailable "issue"); static strings */
	const char *attestation;

	/* set whenever a profile was chosen (also on most denials) */
	const struct nrfca_profile *profile;
	const char *profile_name;

	/* set on allow */
	int registration;             /* a public-key profile: record the attested key,
	                                 sign nothing (device_id = the attested UUID) */
	char device_id[NRFCA_POLICY_CN_MAX + 1];  /* the CN to certify */
	char imei[16];                /* IMEI named by the CN or sent by the station, "" if none */
	int validity_days;
	enum nrfca_on_existing on_existing;
	enum nrfca_existing_action action;
	enum nrfca_supersede_from supersede_from;
	int existing_other_station;   /* the existing certificate came through another
					 station (allowed by supersede_from) */
	int charged;                  /* the enrollment rate limits were charged */
	int charged_supersede;        /* the supersede budget was charged */
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
/* What the profile takes: "keygen", "csr", "any" or "public-key" (a station
 * asks the modem for a public key instead of a CSR for the last). */
const char *nrfca_profile_input_name(const struct nrfca_profile *pr);
int nrfca_profile_enabled(const struct nrfca_profile *pr);
/* 1 when `station` may use the profile (no "stations" and no "groups" list =
 * everybody); groups are not consulted: see nrfca_profile_caller_allowed. */
int nrfca_profile_station_allowed(const struct nrfca_profile *pr, const char *station);
/* 1 when the caller may use the profile: its name is in "stations" or one
 * of its groups is in "groups" (neither list = everybody). */
int nrfca_profile_caller_allowed(const struct nrfca_profile *pr, const char *station,
				 const char *const *groups, size_t n_groups);
/* The profile a request names, or the default one for NULL / "";  NULL
 * when there is no such profile. */
const struct nrfca_profile *nrfca_policy_profile_for(const struct nrfca_policy *p,
						     const char *requested);
/* 1 when the profile refuses devices not imported for the caller
 * (require_known_device): the server looks the device up first. */
int nrfca_profile_requires_known_device(const struct nrfca_profile *pr);
/* 1 when deciding under the profile needs the caller's station groups
 * ("groups", or "supersede_from": "station_group"). */
int nrfca_profile_uses_groups(const struct nrfca_profile *pr);
/* 1 when the profile asks nRF Cloud's Identity Service. */
int nrfca_profile_uses_identity_service(const struct nrfca_profile *pr);
/* 1 when some enabled profile of the policy asks the Identity Service. */
int nrfca_policy_uses_identity_service(const struct nrfca_policy *p);
enum nrfca_supersede_from nrfca_profile_supersede_from(const struct nrfca_profile *pr);
/*
 * The station scope of a certificate issued through `holder` under profile
 * `pr` (NULL: a profile the policy no longer has, i.e. same_station): 1 when
 * `caller` (with its groups) may supersede it, receive it again as a replay
 * and read it with GET /v1/certificates/{serial}.  The same rule as the
 * enrollment's supersede_scope.
 */
int nrfca_profile_station_in_scope(const struct nrfca_profile *pr, const char *caller,
				   const char *const *groups, size_t n_groups,
				   const char *holder, const char *const *holder_groups,
				   size_t n_holder_groups);
/*
 * What a station is trusted with under a profile that does not check who
 * signed the attestation (no identity_keys, no verify_with) or takes plain
 * CSRs: one paragraph for `nrfca-admin policy check` and the server's
 * start-up log.  Returns the length written (0 when the profile checks the
 * signature, or is disabled: nothing to warn about).
 */
size_t nrfca_profile_trust_warning(const struct nrfca_profile *pr, char *buf, size_t len);
const char *nrfca_profile_trust_bundle(const struct nrfca_profile *pr, size_t *len);
const struct nrfca_policy_ext *nrfca_profile_extensions(const struct nrfca_profile *pr);
/* The subject of an issued certificate: the profile's fixed attributes in
 * file order, then CN=cn.  *out is new; the caller frees it. */
int nrfca_profile_subject(const struct nrfca_profile *pr, const char *cn, X509_NAME **out,
			  struct nrfca_err *err);

/* What a station needs to know before it asks (GET /v1/profiles): the CN
 * rule, the allowed sec_tags and inputs (policy_describe.c). */
/* "attested_uuid", "imei", "pattern" or "any". */
const char *nrfca_profile_cn_source(const struct nrfca_profile *pr);
/* For source "imei": 1 when the form is allowed; form "nrf-imei" or "imei". */
int nrfca_profile_imei_form(const struct nrfca_profile *pr, const char *form);
/* The anchored pattern the CN must match, or NULL. */
const char *nrfca_profile_cn_pattern(const struct nrfca_profile *pr);
int nrfca_profile_cn_max(const struct nrfca_profile *pr);
/* Allowed sec_tag ranges: the number of ranges (0 = every sec_tag), range i
 * in *lo..*hi when i is below it. */
size_t nrfca_profile_sec_tag_range(const struct nrfca_profile *pr, size_t i, uint64_t *lo,
				   uint64_t *hi);
/* 1 when the profile accepts this input kind. */
int nrfca_profile_accepts(const struct nrfca_profile *pr, enum nrfca_policy_input in);

/* Helpers the engine uses, exported for the station client and tests. */
int nrfca_luhn_ok(const char *digits15);
int nrfca_is_uuid_lower(const char *s);
/* 1 when s[0..n) is a UUID 8-4-4-4-12 in any case. */
int nrfca_is_uuid_any_case(const char *s, size_t n);

#endif
