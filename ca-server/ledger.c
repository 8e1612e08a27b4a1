/*
 * ledger.c - name tables, input validation and audit details of the ledger
 * (see ledger_int.h for the layout of the module).
 */
#include "ledger_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static const char *const kind_names[CERT_KIND_MAX] = {
	[CERT_KIND_CERTIFICATE] = "certificate",
	[CERT_KIND_PUBLIC_KEY] = "public_key",
};

static const char *const scope_names[LEDGER_SCOPE_MAX] = {
	[LEDGER_SCOPE_STATION] = "station",
	[LEDGER_SCOPE_GROUP] = "group",
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

const char *cert_kind_name(enum cert_kind k)
{
	return (unsigned)k < CERT_KIND_MAX ? kind_names[k] : NULL;
}

int cert_kind_from_name(const char *name)
{
	return name_index(kind_names, CERT_KIND_MAX, name);
}

const char *ledger_scope_name(enum ledger_scope s)
{
	return (unsigned)s < LEDGER_SCOPE_MAX ? scope_names[s] : NULL;
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

/* ---- validation ---- */

int ledger_field_ok(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

int ledger_is_hex_serial(const char *s)
{
	size_t i, n;

	if (s == NULL)
		return 0;
	n = strnlen(s, LEDGER_SERIAL_MAX + 1);
	if (n == 0 || n > LEDGER_SERIAL_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int ledger_serial_input(const char *serial, struct nrfca_err *err)
{
	if (!ledger_is_hex_serial(serial))
		return nrfca_err_set(err, NRFCA_E_INPUT, "certificate serial must be 1 to %d lower-case hex digits",
		                     LEDGER_SERIAL_MAX);
	return 0;
}

/* 1..max bytes without control characters. */
int ledger_check_printable(const char *what, const char *s, size_t max, struct nrfca_err *err)
{
	size_t i, n;

	if (s == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no %s given", what);
	n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return nrfca_err_set(err, NRFCA_E_INPUT, "%s must be 1 to %zu characters", what, max);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return nrfca_err_set(err, NRFCA_E_INPUT, "%s contains a control character", what);
	return 0;
}

int ledger_check_actor(const char **actor, struct nrfca_err *err)
{
	if (*actor == NULL)
		*actor = "system";
	return ledger_check_printable("audit actor", *actor, ACTOR_MAX, err);
}

/* Credential and group names: 1..64 of [A-Za-z0-9_.-]. */
int ledger_check_name(const char *what, const char *name, struct nrfca_err *err)
{
	size_t i, n;

	if (name == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "%s is missing", what);
	n = strnlen(name, LEDGER_CRED_NAME_MAX + 1);
	if (n == 0 || n > LEDGER_CRED_NAME_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT, "%s must be 1 to %d characters", what,
		                     LEDGER_CRED_NAME_MAX);
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return nrfca_err_set(err, NRFCA_E_INPUT,
			                     "%s may hold only letters, digits, '_', '.' and '-'", what);
	}
	return 0;
}

int ledger_check_event(const char *event, struct nrfca_err *err)
{
	size_t i, n;

	if (event == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no audit event name given");
	n = strnlen(event, 65);
	if (n == 0 || n > 64)
		return nrfca_err_set(err, NRFCA_E_INPUT, "audit event name must be 1 to 64 characters");
	for (i = 0; i < n; i++) {
		char ch = event[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return nrfca_err_set(err, NRFCA_E_INPUT,
			                     "audit event name may hold only a-z, 0-9, '_', '.' and '-'");
	}
	return 0;
}

int ledger_check_record(const struct cert_record *c, struct nrfca_err *err)
{
	if (c == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no certificate record given");
	if (!ledger_field_ok(c->serial, sizeof(c->serial)) || !ledger_is_hex_serial(c->serial))
		return ledger_serial_input(NULL, err);
	if (!ledger_field_ok(c->device_id, sizeof(c->device_id)) || !ledger_field_ok(c->uuid, sizeof(c->uuid)) ||
	    !ledger_field_ok(c->imei, sizeof(c->imei)) || !ledger_field_ok(c->profile, sizeof(c->profile)) ||
	    !ledger_field_ok(c->station, sizeof(c->station)) || !ledger_field_ok(c->subject, sizeof(c->subject)) ||
	    !ledger_field_ok(c->request_id, sizeof(c->request_id)) || !ledger_field_ok(c->slot, sizeof(c->slot)))
		return nrfca_err_set(err, NRFCA_E_INPUT, "a text field of the certificate record is not terminated");
	if (c->device_id[0] == '\0' || c->profile[0] == '\0')
		return nrfca_err_set(err, NRFCA_E_INPUT, "certificate record needs a device id and a profile");
	if (c->status != CERT_ACTIVE)
		return nrfca_err_set(err, NRFCA_E_INPUT, "a newly issued certificate must be active");
	if (cert_kind_name(c->kind) == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "unknown record kind %d", (int)c->kind);
	if (c->one_active != 0 && c->one_active != 1)
		return nrfca_err_set(err, NRFCA_E_INPUT, "one_active must be 0 or 1");
	if (c->der == NULL || c->der_len == 0 || c->der_len > LEDGER_DER_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT, "certificate DER must be 1 to %d bytes", LEDGER_DER_MAX);
	return 0;
}

/* ---- audit details ---- */

char *ledger_dump(json_t *j, struct nrfca_err *err)
{
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(j);
	if (s == NULL)
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory writing an audit entry");
	return s;
}

char *ledger_revoke_detail(const char *serial, int reason, const char *by, struct nrfca_err *err)
{
	return ledger_dump(json_pack("{s:s, s:i, s:s, s:s?}", "serial", serial, "reason", reason,
	                             "reason_name", crl_reason_name(reason), "superseded_by", by),
	                   err);
}

long long ledger_now(void)
{
	return (long long)time(NULL);
}

double ledger_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
