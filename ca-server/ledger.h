/*
 * ledger.h - the CA's durable record: issued certificates, API credentials
 * and the append-only, hash-chained audit log.
 *
 * Engine-neutral: the ledger is opened by URL ("sqlite:/var/lib/nrfca/ca.db";
 * "postgresql:..." is reserved for a future engine and refused today).  The
 * caller never sees SQL.  The handle is opaque and thread-safe: any number of
 * threads may call any function at the same time (except ledger_close).
 *
 * Durability: every function that changes the ledger returns success only
 * after the change is committed (SQLite: WAL, synchronous=FULL).  Writes are
 * group-committed: concurrent callers are queued to one writer thread which
 * commits all pending changes in one transaction, each change with its audit
 * entry, and then wakes every caller with its own result.  A failure of one
 * change (serial collision, not found, conflict) does not affect the others
 * of the same batch; a database failure (busy, disk full, read-only, I/O,
 * corrupt) rolls the whole transaction back: nothing is half-written.
 *
 * Return conventions: 0 success, -1 failure with `err` set (err may be NULL);
 * lookups return 0 found, 1 not found, -1 error.
 * Database failures are NRFCA_E_DB (retryable: answer 503).
 *
 * Ownership: strings passed in are copied or used during the call only.
 * A cert_record filled by the ledger owns its `der` buffer: release it with
 * cert_record_clear().  Records passed to callbacks are owned by the ledger
 * and valid only during the callback.
 */
#ifndef NRFCA_LEDGER_H
#define NRFCA_LEDGER_H

#include <stddef.h>

#include "error.h"

struct ledger; /* opaque, thread-safe */

/* Tuning; zero fields take the defaults shown. */
struct ledger_config {
	int busy_timeout_ms; /* wait for a lock held by another process; 5000 */
	int readers;         /* max concurrent read connections; 8 */
	int max_batch;       /* max changes per group commit; 256.  1 = one
	                        transaction per change (benchmark comparison) */
	long long max_db_pages; /* SQLite: cap on the database size in pages
	                           (0 = none); tests use it to provoke "disk full" */
};

/* Open (create if missing, then migrate the schema to the current version).
 * Refuses a database whose schema is newer than this program knows
 * (NRFCA_E_CONFIG), a read-only or corrupt database (NRFCA_E_DB), an
 * unknown URL scheme (NRFCA_E_CONFIG). */
int ledger_open(const char *url, struct ledger **out, struct nrfca_err *err);
int ledger_open_cfg(const char *url, const struct ledger_config *cfg,
                    struct ledger **out, struct nrfca_err *err);
/* Waits for queued changes to be committed, then frees everything.
 * No other call may be running or start.  NULL is fine. */
void ledger_close(struct ledger *l);
/* For /v1/ready: one read on the database and a check that the writer thread
 * is alive and making progress.  0 ready, -1 with the reason. */
int ledger_ping(struct ledger *l, struct nrfca_err *err);
/* Group-commit counters since open, for metrics: transactions committed
 * by the writer and changes (requests) they carried. */
struct ledger_stats {
	long long commits;
	long long changes;
};
void ledger_get_stats(struct ledger *l, struct ledger_stats *out);
/* The schema version this program writes. */
int ledger_schema_version(void);

/* ---- certificates ---- */

enum cert_status { CERT_ACTIVE, CERT_REVOKED, CERT_STATUS_MAX };
const char *cert_status_name(enum cert_status s);       /* "active", "revoked" */
int cert_status_from_name(const char *name);            /* -1 if unknown */

/* RFC 5280 CRLReason codes. */
enum crl_reason {
	CRL_REASON_UNSPECIFIED = 0, CRL_REASON_KEY_COMPROMISE = 1,
	CRL_REASON_CA_COMPROMISE = 2, CRL_REASON_AFFILIATION_CHANGED = 3,
	CRL_REASON_SUPERSEDED = 4, CRL_REASON_CESSATION_OF_OPERATION = 5,
	CRL_REASON_CERTIFICATE_HOLD = 6, /* 7 is not used */
	CRL_REASON_REMOVE_FROM_CRL = 8, CRL_REASON_PRIVILEGE_WITHDRAWN = 9,
	CRL_REASON_AA_COMPROMISE = 10, CRL_REASON_MAX
};
/* RFC 5280 names ("keyCompromise"); NULL for 7 or out of range. */
const char *crl_reason_name(int code);
/* Code for a name; -1 if unknown. */
int crl_reason_from_name(const char *name);

#define LEDGER_SERIAL_MAX 32   /* hex digits */
#define LEDGER_DER_MAX 65536   /* bytes of one certificate */

struct cert_record {
	char serial[LEDGER_SERIAL_MAX + 1]; /* lower-case hex, 1..32 digits */
	char device_id[65];
	char uuid[37];     /* "" if unknown */
	char imei[16];     /* "" if unknown */
	char profile[65];
	char station[65];  /* the credential name that asked */
	long long sec_tag; /* -1 unknown */
	unsigned char csr_sha256[32];    /* SHA-256 of the CSR DER; unique */
	unsigned char pubkey_sha256[32]; /* SHA-256 of the SubjectPublicKeyInfo DER */
	char subject[256];               /* one line, e.g. "CN=..." */
	long long not_before, not_after; /* unix seconds */
	long long issued_at;             /* unix seconds; 0 on insert = now */
	enum cert_status status;
	long long revoked_at;            /* 0 when active */
	int revocation_reason;           /* enum crl_reason; -1 when active */
	char request_id[65];             /* "" if none */
	unsigned char *der;              /* owned: free with cert_record_clear */
	size_t der_len;
};
/* Frees der and zeroes the record.  NULL is fine. */
void cert_record_clear(struct cert_record *r);

/* Record an issued certificate and its audit event ("issue") in one
 * transaction.  rec->status must be CERT_ACTIVE.  If supersede_serial is not
 * NULL, that certificate is revoked with reason superseded in the same
 * transaction (and audited as "revoke").  actor: the station name.
 * Errors: NRFCA_E_EXISTS the serial is taken (make a new serial and retry);
 * NRFCA_E_CONFLICT a certificate for the same CSR is already recorded (look
 * it up with ledger_find_by_csr and replay it), or the certificate to
 * supersede is no longer active; NRFCA_E_NOTFOUND the certificate to
 * supersede does not exist; NRFCA_E_INPUT a malformed record; NRFCA_E_DB. */
int ledger_record_issuance(struct ledger *l, const struct cert_record *rec,
                           const char *actor, const char *supersede_serial,
                           struct nrfca_err *err);

/* Lookups: 0 found (out filled, owns der), 1 not found (out untouched),
 * -1 error.  ledger_get and ledger_find_by_csr answer in any status (a
 * replayed request may meet a revoked certificate: the caller decides). */
int ledger_get(struct ledger *l, const char *serial, struct cert_record *out,
               struct nrfca_err *err);
int ledger_find_by_csr(struct ledger *l, const unsigned char csr_sha256[32],
                       struct cert_record *out, struct nrfca_err *err);
/* The most recently issued active certificate of a device. */
int ledger_find_active_by_device(struct ledger *l, const char *device_id,
                                 struct cert_record *out, struct nrfca_err *err);
/* *exists = 1 or 0; returns 0, or -1 on error. */
int ledger_serial_exists(struct ledger *l, const char *serial, int *exists,
                         struct nrfca_err *err);

/* List in ascending serial order.  NULL / 0 fields do not filter.
 * status: "active" or "revoked"; issued_after: issued_at > value;
 * after_serial: keyset paging, records with serial > after_serial;
 * limit <= 0: no limit.  cb returns 0 to continue, non-zero to stop (then
 * ledger_list returns 0).  cb must not call back into the ledger. */
struct ledger_filter {
	const char *device_id;
	const char *status;
	const char *profile;
	const char *station;
	long long issued_after;
	const char *after_serial;
	int limit;
};
int ledger_list(struct ledger *l, const struct ledger_filter *f,
                int (*cb)(const struct cert_record *rec, void *arg), void *arg,
                struct nrfca_err *err);

/* Revoke; audited as "revoke".  reason: enum crl_reason except 7 and
 * removeFromCRL (NRFCA_E_INPUT).  NRFCA_E_NOTFOUND unknown serial,
 * NRFCA_E_CONFLICT already revoked.  *revoked_at (may be NULL) gets the time. */
int ledger_revoke(struct ledger *l, const char *serial, int reason,
                  const char *actor, long long *revoked_at, struct nrfca_err *err);

/* Every revoked certificate, ascending serial, for the CRL.  cb as above. */
int ledger_revoked_each(struct ledger *l,
                        int (*cb)(const char *serial, long long revoked_at,
                                  int reason, void *arg),
                        void *arg, struct nrfca_err *err);

/* Allocate the next CRL number (1, 2, ...), durably. */
int ledger_next_crl_number(struct ledger *l, unsigned long long *out,
                           struct nrfca_err *err);

/* For metrics: all certificates and the revoked ones among them. */
int ledger_count(struct ledger *l, long long *certs, long long *revoked,
                 struct nrfca_err *err);

/* ---- audit log ----
 * Entries: id (1, 2, ...), time (unix seconds), actor, event, detail (JSON
 * text), prev_hash, hash = SHA-256(prev_hash || canonical(id, time, actor,
 * event, detail)), where canonical is id and time as 8-byte big-endian
 * two's complement, then actor, event and detail each as a 4-byte big-endian
 * length followed by the bytes.  The first prev_hash is 32 zero bytes.
 * Nothing in the code updates or deletes entries; SQLite triggers refuse it. */

#define LEDGER_AUDIT_DETAIL_MAX 16384

/* Append an event, e.g. a rejected enrollment.  event: 1..64 characters of
 * [a-z0-9_.-]; detail_json: a JSON object or NULL ("{}").  Secrets never
 * belong here. */
int ledger_audit(struct ledger *l, const char *actor, const char *event,
                 const char *detail_json, struct nrfca_err *err);

/* Walk the chain in id order.  Returns 0 intact, 1 broken (first_broken_id
 * and why say where: "entry 17: hash does not match its contents"), -1 error.
 * *entries gets the number of entries checked.  A truncation of the newest
 * entries cannot be detected from the chain alone. */
int ledger_audit_verify(struct ledger *l, long long *entries,
                        long long *first_broken_id, char *why, size_t whylen,
                        struct nrfca_err *err);

/* ---- API credentials: only the SHA-256 of the secret is stored ---- */

enum cred_role { ROLE_STATION, ROLE_OPERATOR, ROLE_AUDITOR, ROLE_MAX };
const char *cred_role_name(enum cred_role r);  /* "station", ... */
int cred_role_from_name(const char *name);     /* -1 if unknown */

#define LEDGER_CRED_NAME_MAX 64

/* name: 1..64 characters of [A-Za-z0-9_.-].  Audited as "cred_add".
 * NRFCA_E_EXISTS if the name (or the hash) exists. */
int ledger_cred_add(struct ledger *l, const char *name, enum cred_role role,
                    const unsigned char hash[32], const char *actor,
                    struct nrfca_err *err);
/* 0 found, 1 not found, -1 error.  Fast: answers come from an in-memory
 * cache, invalidated by add/disable through this handle and expiring after
 * a few seconds (so a change made by another process, e.g. nrfca-admin,
 * takes effect within that time). */
int ledger_cred_lookup(struct ledger *l, const unsigned char hash[32],
                       char name[LEDGER_CRED_NAME_MAX + 1], enum cred_role *role,
                       int *disabled, struct nrfca_err *err);
/* Audited as "cred_disable".  NRFCA_E_NOTFOUND, NRFCA_E_CONFLICT if already
 * disabled. */
int ledger_cred_disable(struct ledger *l, const char *name, const char *actor,
                        struct nrfca_err *err);
/* In name order. cb returns 0 to continue. */
int ledger_cred_list(struct ledger *l,
                     int (*cb)(const char *name, enum cred_role role,
                               int disabled, long long created, void *arg),
                     void *arg, struct nrfca_err *err);

#endif
