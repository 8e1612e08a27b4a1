/*
 * ledger.c - the engine-neutral parts of the ledger: name tables and the
 * record helpers.  The engines (ledger_sqlite.c) implement the rest of
 * ledger.h.
 */
#include "ledger.h"

#include <stdlib.h>
#include <string.h>

static const char *const status_names[CERT_STATUS_MAX] = {
	[CERT_ACTIVE] = "active",
	[CERT_REVOKED] = "revoked",
};

static const char *const reason_names[CRL_REASON_MAX] = {
	[CRL_REASON_UNSPECIFIED] = "unspecified",
	[CRL_REASON_KEY_COMPROMISE] = "keyCompromise",
	[CRL_REASON_CA_COMPROMISE] = "cACompromise",
	[CRL_REASON_AFFILIATION_CHANGED] = "affiliationChanged",
	[CRL_REASON_SUPERSEDED] = "superseded",
	[CRL_REASON_CESSATION_OF_OPERATION] = "cessationOfOperation",
	[CRL_REASON_CERTIFICATE_HOLD] = "certificateHold",
	[CRL_REASON_REMOVE_FROM_CRL] = "removeFromCRL",
	[CRL_REASON_PRIVILEGE_WITHDRAWN] = "privilegeWithdrawn",
	[CRL_REASON_AA_COMPROMISE] = "aACompromise",
};

static const char *const role_names[ROLE_MAX] = {
	[ROLE_STATION] = "station",
	[ROLE_OPERATOR] = "operator",
	[ROLE_AUDITOR] = "auditor",
};

static int name_index(const char *const *names, int n, const char *name)
{
	int i;

	if (name == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (names[i] != NULL && strcmp(names[i], name) == 0)
			return i;
	return -1;
}

const char *cert_status_name(enum cert_status s)
{
	return (unsigned)s < CERT_STATUS_MAX ? status_names[s] : NULL;
}

int cert_status_from_name(const char *name)
{
	return name_index(status_names, CERT_STATUS_MAX, name);
}

const char *crl_reason_name(int code)
{
	return code >= 0 && code < CRL_REASON_MAX ? reason_names[code] : NULL;
}

int crl_reason_from_name(const char *name)
{
	return name_index(reason_names, CRL_REASON_MAX, name);
}

const char *cred_role_name(enum cred_role r)
{
	return (unsigned)r < ROLE_MAX ? role_names[r] : NULL;
}

int cred_role_from_name(const char *name)
{
	return name_index(role_names, ROLE_MAX, name);
}

void cert_record_clear(struct cert_record *r)
{
	if (r == NULL)
		return;
	free(r->der);
	memset(r, 0, sizeof(*r));
}
