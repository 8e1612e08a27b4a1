/*
 * policy_int.h - the loaded representation of a policy, shared by the
 * loader (policy_load.c), the engine (policy_decide.c) and the store.
 * Not for use outside policies/.
 */
#ifndef NRFCA_POLICY_INT_H
#define NRFCA_POLICY_INT_H

#include <regex.h>
#include <stdatomic.h>

#include "policy.h"
#include "ratelimit.h"

#define POL_PROFILES_MAX   64
#define POL_NAME_MAX       64
#define POL_STATION_MAX    256
#define POL_GROUP_MAX      64           /* a group name, like a credential name */
#define POL_GROUPS_MAX     256          /* groups named by one profile */
#define POL_PATTERN_MAX    256
#define POL_AUX_FILE_MAX   (64u << 10)  /* trust bundle, identity key PEM files */
#define POL_IDKEYS_MAX     1024
#define POL_LIST_ENTRY_MAX 36           /* a UUID */
#define POL_URLS_MAX       4            /* CRL distribution points, caIssuers */
#define POL_URL_MAX        512

enum pol_cn_source {
	POL_CN_ANY = 0,        /* no identity rule (pattern/length only) */
	POL_CN_ATTESTED_UUID,
	POL_CN_IMEI,
	POL_CN_PATTERN,
	POL_CN_MAX
};

#define POL_IMEI_FORM_NRF  1u  /* nrf-<IMEI> */
#define POL_IMEI_FORM_BARE 2u  /* <IMEI> */

struct pol_attr {
	int nid;
	char *value;
};

struct pol_list {               /* sorted, unique, normalised entries */
	char **items;
	size_t n;
	char *path;
};

struct pol_range {
	uint64_t lo, hi;
};

struct nrfca_profile {
	char *name;
	char *description;
	int enabled;
	unsigned inputs;            /* bit (1u << enum nrfca_policy_input) */

	unsigned key_types;         /* POL_KT_* bits */
	int *curves;
	size_t n_curves;
	int rsa_min_bits;

	enum pol_cn_source cn_source;
	unsigned imei_forms;
	char *pattern;
	regex_t re;
	int has_re;
	int cn_max;

	int unlisted_refuse;        /* requested attributes not listed: 1 refuse, 0 ignore */
	int *ignore_nids;
	size_t n_ignore;
	int *refuse_nids;
	size_t n_refuse;
	struct pol_attr *add;
	size_t n_add;

	int att_required;
	int binding_required;
	int payload_csr;
	EVP_PKEY **idkeys;
	size_t n_idkeys;

	struct pol_range *sec_tags;
	size_t n_sec_tags;
	int has_sec_tags;

	struct pol_list allow, deny;
	int has_allow, has_deny;

	char **stations;
	size_t n_stations;
	int has_stations;
	char **groups;              /* station groups that may use the profile */
	size_t n_groups;
	int has_groups;

	enum nrfca_on_existing on_existing;
	enum nrfca_supersede_from supersede_from;
	int require_known_device;
	int verify_identity;        /* attestation.verify_with "nrf-cloud-identity" */
	int identity_fail_open;     /* attestation.on_unavailable "issue" */
	int validity_default, validity_max;

	struct nrfca_policy_ext ext;
	char **eku;
	char **crl_dp, **ca_issuers;   /* NULL-terminated, owned */

	char *trust;
	size_t trust_len;

	unsigned rl_station, rl_profile;
	unsigned rl_supersede;      /* supersedes per station per hour, 0 = no limit */
};

#define POL_KT_EC      1u
#define POL_KT_RSA     2u
#define POL_KT_ED25519 4u
#define POL_KT_ED448   8u

struct nrfca_policy {
	atomic_uint refs;
	char *path;
	unsigned char sha256[32];   /* of the policy file's bytes as loaded */
	struct nrfca_profile *profiles;
	size_t n;
	size_t default_idx;
	struct nrfca_ratelimit *rl;
};

/* Loader entry with an explicit limiter (the store passes its own, shared
 * across reloads; NULL = a new one). */
int pol_load(const void *buf, size_t len, const char *name, const char *base_dir,
	     struct nrfca_ratelimit *rl, struct nrfca_policy **out, struct nrfca_err *err);
int pol_load_file(const char *path, struct nrfca_ratelimit *rl, struct nrfca_policy **out,
		  struct nrfca_err *err);

int pol_list_contains(const struct pol_list *l, const char *s);

#endif
