/*
 * ledger.h - the CA's durable record: issued certificates and public-key
 * registrations, API credentials, expected devices, rate windows and the
 * append-only, hash-chained audit log.
 *
 * Engine-neutral: the ledger is opened by URL.  "sqlite:/var/lib/nrfca/ca.db"
 * is the embedded engine (one server process per file); "postgresql://..." (a
 * libpq URI) or a libpq keyword string ("host=/run/pg dbname=nrfca") is the
 * shared engine several server instances can use at once.  The caller never
 * sees SQL.  The handle is opaque and thread-safe: any number of threads may
 * call any function at the same time (except ledger_close).
 *
 * Durability: every function that changes the ledger returns success only
 * after the change is committed (SQLite: WAL, synchronous=FULL; PostgreSQL:
 * synchronous commit).  Writes are group-committed: concurrent callers are
 * queued to one writer thread which commits all pending changes in one
 * transaction, each change with its audit entry, and then wakes every caller
 * with its own result.  A failure of one change (serial collision, not found,
 * conflict, stale) does not affect the others of the same batch; a database
 * failure (busy, disk full, read-only, I/O, corrupt, connection lost) rolls
 * the whole transaction back: nothing is half-written.
 *
 * Invariants the database itself enforces, on both engines:
 *  - at most one active record per (device_id, kind) among the records with
 *    one_active = 1 (a partial unique index);
 *  - one record per CSR hash (replay), one per serial;
 *  - one audit hash chain: every append reads and updates the one-row
 *    audit_head inside its transaction (PostgreSQL: SELECT ... FOR UPDATE, so
 *    appends from several instances are serialized);
 *  - audit entries are never updated or deleted (triggers refuse it).
 *
 * Return conventions: 0 success, -1 failure with `err` set (err may be NULL);
 * lookups return 0 found, 1 not found, -1 error.
 * Database failures are NRFCA_E_DB (retryable: answer 503).
 *
 * Ownership: strings passed in are copied or used during the call only.
 * A cert_record filled by the ledger owns its `der` buffer: release it with
 * cert_record_clear().  Records passed to callbacks are owned by the ledger
 * and valid only during the callback; callbacks must not call back into the
 * ledger.
 */
#ifndef NRFCA_LEDGER_H
#define NRFCA_LEDGER_H

#include <stddef.h>

#include "error.h"

struct ledger; /* opaque, thread-safe */

/* Tuning; zero fields take the defaults shown. */
struct ledger_config {
	int busy_timeout_ms; /* wait for a lock held by another process; 5000 */
	int readers;         /* max concurrent read connections (PostgreSQL: the
	                        pool of connections besides the writer's); 8 */
	int max_batch;       /* max changes per group commit; 256.  1 = one
	                        transaction per change (benchmark comparison) */
	long long max_db_pages; /* SQLite: cap on the database size in pages
	                           (0 = none); tests use it to provoke "disk full" */
	int exclusive;       /* SQLite: hold "<db>.lock" (flock, with our pid) for
	                        the life of the handle and refuse to open when
	                        another process holds it.  nrfca-server sets it;
	                        nrfca-admin does not.  Ignored on PostgreSQL. */
	const char *password_file; /* PostgreSQL: file holding the password
	                              (one line, mode 0600 or stricter); NULL:
	                              libpq's own PGPASSFILE / PGPASSWORD */
	const char *program; /* who holds the lock, for the refusal message;
	                        "nrfca-server" if NULL */
	int memory;          /* tests and fuzz targets only (no configuration sets
	                        it): a SQLite ledger that lives in memory (SQLite's
	                        memdb, journal in memory, nothing durable) and is
	                        gone with the handle; "sqlite:NAME" names nothing
	                        on disk.  Each open is a new, empty ledger. */
};

/* Open (create if missing, then migrate the schema to the current version;
 * migrations are applied once even when several processes open a new ledger
 * at the same moment).  Refuses a database whose schema is newer than this
 * program knows (NRFCA_E_CONFIG), a read-only or corrupt database
 * (NRFCA_E_DB), an unknown URL scheme or a password inside a PostgreSQL
 * connection string (NRFCA_E_CONFIG), a SQLite ledger another server holds
 * (NRFCA_E_EXISTS, cfg->exclusive).  Files a SQLite ledger creates (database,
 * -wal, -shm, lock) are mode 0600; an existing database file that group or
 * others may read is tightened to 0600 when we own it. */
int ledger_open(const char *url, struct ledger **out, struct nrfca_err *err);
int ledger_open_cfg(const char *url, const struct ledger_config *cfg,
                    struct ledger **out, struct nrfca_err *err);
/* Waits for queued changes to be committed, then frees everything (and
 * releases the lock file).  No other call may be running or start.  NULL is
 * fine. */
void ledger_close(struct ledger *l);
/* For /v1/ready: one read on the database and a check that the writer thread
 * is alive and making progress.  0 ready, -1 with the reason. */
int ledger_ping(struct ledger *l, struct nrfca_err *err);
/* Group-commit counters since open, for metrics: transactions committed
 * by the writer and changes (requests) they carried. */
struct ledger_stats {
	long long commits;
	long long changes;
	/* SQLite: WAL pages copied into the database by the background
	 * checkpointer and by the writer thread itself (which holds up every
	 * caller while it copies); 0 on PostgreSQL */
	long long checkpoint_pages_background, checkpoint_pages_writer;
};
void ledger_get_stats(struct ledger *l, struct ledger_stats *out);
/* 1 when several processes may write this ledger at the same time
 * (PostgreSQL): what one process keeps in memory (rate-limit buckets) is then
 * not the whole truth, and shared state must be counted in the ledger. */
int ledger_shared(const struct ledger *l);
/* The schema version this program writes. */
int ledger_schema_version(void);

/* For `nrfca-admin check`: engine ("sqlite" | "postgresql"), the schema
 * version stored in the database, and a description of the connection
 * without any password ("/var/lib/nrfca/ca.db (WAL, synchronous=FULL)",
 * "dbname=nrfca host=/run/postgresql user=nrfca, server 15.8"). */
struct ledger_info {
	char engine[16];
	int schema_version;
	char connection[384];
};
int ledger_info(struct ledger *l, struct ledger_info *out, struct nrfca_err *err);

/* Copy the ledger to dest_path (a new file, mode 0600; refused if it exists)
 * while it is in use: SQLite's online backup API, written to
 * "<dest_path>.partial", then opened and verified (integrity check, schema
 * version, audit chain) and only then renamed to dest_path.  *entries (may be
 * NULL) gets the number of audit entries verified.  On PostgreSQL refused
 * (NRFCA_E_CONFIG) with a sentence naming pg_dump. */
int ledger_backup(struct ledger *l, const char *dest_path, long long *entries,
                  struct nrfca_err *err);

/* Copy everything durable from one ledger to another, e.g. SQLite to
 * PostgreSQL (nrfca-admin migrate): certificates, credentials with their
 * groups and bindings, expected devices, the audit log entry by entry (ids,
 * times and hashes unchanged, so the chain stays the same chain), the chain
 * head and the CRL state; rate windows are not copied.  The target must be
 * empty (NRFCA_E_EXISTS otherwise).  One transaction on the target: nothing
 * is half-copied.  Afterwards the target is checked: the same counts, the
 * audit chain verifies, the same CRL number; then the target's log gets a
 * "ledger.migrated" entry naming the source.  progress (may be NULL) is
 * called now and then with what is being copied.  Stop every writer of the
 * source first (open it with cfg.exclusive to make sure for SQLite). */
struct ledger_copy_stats {
	long long certificates, revoked, credentials, groups, expected, audit_entries;
	unsigned long long crl_number;
};
int ledger_copy(struct ledger *from, struct ledger *to,
                void (*progress)(const char *what, long long done, long long total, void *arg),
                void *arg, struct ledger_copy_stats *out, struct nrfca_err *err);

/* ---- certificates and public-key registrations ---- */

enum cert_status { CERT_ACTIVE, CERT_REVOKED, CERT_STATUS_MAX };
const char *cert_status_name(enum cert_status s);       /* "active", "revoked" */
int cert_status_from_name(const char *name);            /* -1 if unknown */

/* What a record holds: an X.509 certificate (der = the certificate), or a
 * public key registered for a device (der = the SubjectPublicKeyInfo,
 * csr_sha256 = SHA-256 of the attested public key DER).  Public-key records
 * are listed, fetched and revoked like certificates but never in the CRL. */
enum cert_kind { CERT_KIND_CERTIFICATE, CERT_KIND_PUBLIC_KEY, CERT_KIND_MAX };
const char *cert_kind_name(enum cert_kind k);   /* "certificate", "public_key" */
int cert_kind_from_name(const char *name);      /* -1 if unknown */

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
#define LEDGER_SLOT_MAX 64     /* characters of a fixture slot name */

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
	enum cert_kind kind;             /* CERT_KIND_CERTIFICATE (0) by default */
	int one_active;                  /* 1: at most one active record of this
	                                    kind per device (the database enforces
	                                    it); 0: no such limit */
	char slot[LEDGER_SLOT_MAX + 1];  /* the station's fixture slot, "" if none */
	/* for the "issue" audit entry only, not stored with the record ("" = none):
	 * how the attestation was judged ("binding", "identity_keys",
	 * "nrf-cloud-identity:genuine" ...) and the station the superseded
	 * certificate had been issued through */
	char attestation[48];
	char supersedes_station[65];
	unsigned char *der;              /* owned: free with cert_record_clear */
	size_t der_len;
};
/* Frees der and zeroes the record.  NULL is fine. */
void cert_record_clear(struct cert_record *r);

/* Record an issued certificate (or public-key registration) and its audit
 * event ("issue") in one transaction.  rec->status must be CERT_ACTIVE.
 *
 * expected_active is the serial of the device's active one_active record of
 * rec->kind that the caller's decision was based on (NULL: it saw none).
 * When rec->one_active is set, the ledger checks inside the transaction that
 * the device's current holder is exactly that one; if not, nothing is written
 * and the call fails with NRFCA_E_STALE, the message naming the current
 * holder: re-read it (ledger_find_holder), decide again, retry (bounded).
 * When expected_active is not NULL it is revoked with reason superseded
 * (audited as "revoke") before the new record is inserted, in the same
 * transaction.  actor: the station name.
 *
 * Errors: NRFCA_E_STALE (above; also when the partial unique index refuses
 * the insert); NRFCA_E_EXISTS the serial is taken (make a new serial and
 * retry); NRFCA_E_CONFLICT a record for the same CSR is already recorded (look
 * it up with ledger_find_by_csr and replay it), or, without one_active, the
 * record to supersede is no longer active; NRFCA_E_NOTFOUND the record to
 * supersede does not exist; NRFCA_E_INPUT a malformed record; NRFCA_E_DB. */
int ledger_record_issuance(struct ledger *l, const struct cert_record *rec,
                           const char *actor, const char *expected_active,
                           struct nrfca_err *err);

/* Lookups: 0 found (out filled, owns der), 1 not found (out untouched),
 * -1 error.  ledger_get and ledger_find_by_csr answer in any status (a
 * replayed request may meet a revoked certificate: the caller decides). */
int ledger_get(struct ledger *l, const char *serial, struct cert_record *out,
               struct nrfca_err *err);
int ledger_find_by_csr(struct ledger *l, const unsigned char csr_sha256[32],
                       struct cert_record *out, struct nrfca_err *err);
/* The most recently issued active certificate (kind certificate) of a
 * device, one_active or not. */
int ledger_find_active_by_device(struct ledger *l, const char *device_id,
                                 struct cert_record *out, struct nrfca_err *err);
/* The device's active one_active record of that kind: the one a decision
 * passes as expected_active to ledger_record_issuance. */
int ledger_find_holder(struct ledger *l, const char *device_id, enum cert_kind kind,
                       struct cert_record *out, struct nrfca_err *err);
/* Both lookups of an enrollment in one read: the record of this CSR (in
 * any status; *holder = 0), else the device's holder as ledger_find_holder
 * finds it (*holder = 1). */
int ledger_find_csr_or_holder(struct ledger *l, const unsigned char csr_sha256[32],
                              const char *device_id, enum cert_kind kind,
                              struct cert_record *out, int *holder, struct nrfca_err *err);
/* *exists = 1 or 0; returns 0, or -1 on error. */
int ledger_serial_exists(struct ledger *l, const char *serial, int *exists,
                         struct nrfca_err *err);

/* List in ascending serial order.  NULL / 0 fields do not filter.
 * status: "active" or "revoked"; kind: "certificate" or "public_key";
 * issued_after: issued_at > value; after_serial: keyset paging, records with
 * serial > after_serial; limit <= 0: no limit.  cb returns 0 to continue,
 * non-zero to stop (then ledger_list returns 0). */
struct ledger_filter {
	const char *device_id;
	const char *status;
	const char *profile;
	const char *station;
	long long issued_after;
	const char *after_serial;
	int limit;
	const char *kind;
};
int ledger_list(struct ledger *l, const struct ledger_filter *f,
                int (*cb)(const struct cert_record *rec, void *arg), void *arg,
                struct nrfca_err *err);

/* Revoke; audited as "revoke".  reason: enum crl_reason except 7 and
 * removeFromCRL (NRFCA_E_INPUT).  NRFCA_E_NOTFOUND unknown serial,
 * NRFCA_E_CONFLICT already revoked.  *revoked_at (may be NULL) gets the time. */
int ledger_revoke(struct ledger *l, const char *serial, int reason,
                  const char *actor, long long *revoked_at, struct nrfca_err *err);

/* Every revoked certificate (kind certificate), ascending serial, for the
 * CRL.  cb as above. */
int ledger_revoked_each(struct ledger *l,
                        int (*cb)(const char *serial, long long revoked_at,
                                  int reason, void *arg),
                        void *arg, struct nrfca_err *err);

/* Allocate the next CRL number, durably: max(stored + 1, the current unix
 * time in milliseconds).  Strictly increasing across processes and instances
 * sharing the ledger, and never backwards after restoring an older backup
 * (as long as the clock does not go back). */
int ledger_next_crl_number(struct ledger *l, unsigned long long *out,
                           struct nrfca_err *err);

/* A counter bumped in the same transaction as every revocation of a
 * certificate (supersede included; a public-key registration's revocation
 * is never in the CRL and leaves it alone), by any process.  Cheap (one row): a CRL built when the mark was
 * M is stale as soon as the mark differs from M. */
int ledger_revocation_mark(struct ledger *l, long long *mark, struct nrfca_err *err);

/* The published CRL: one for every process and instance sharing the
 * ledger.  Whoever signs a CRL publishes it; a server serves the published
 * one while its mark equals the revocation mark and it is not due, and
 * signs (and publishes) a new one otherwise. */
struct ledger_crl {
	long long revocation_mark;     /* the ledger's, as ledger_revocation_mark */
	unsigned long long number;     /* of the published CRL; 0: none yet */
	long long this_update, next_update; /* unix seconds */
	long long mark;                /* the revocation mark it was built at */
};
#define LEDGER_CRL_MAX (64u << 20)  /* bytes of a published CRL */
/* One single-row read, no DER: cheap enough for every GET /v1/crl. */
int ledger_crl_state(struct ledger *l, struct ledger_crl *out, struct nrfca_err *err);
/* Store a signed CRL (number, this/next update and mark from c; the
 * revocation_mark field is ignored) unless one with a number at least as
 * high is published already: then *published = 0 and nothing changes. */
int ledger_crl_publish(struct ledger *l, const struct ledger_crl *c, const unsigned char *der,
                       size_t len, int *published, struct nrfca_err *err);
/* The published CRL: 0 (out filled, *der malloc'd), 1 none yet, -1 error. */
int ledger_crl_get(struct ledger *l, struct ledger_crl *out, unsigned char **der, size_t *len,
                   struct nrfca_err *err);

/* For metrics: all records and the revoked ones among them. */
int ledger_count(struct ledger *l, long long *certs, long long *revoked,
                 struct nrfca_err *err);

/* ---- audit log ----
 * Entries: id (1, 2, ...), time (unix seconds), actor, event, detail (JSON
 * text), prev_hash, hash = SHA-256(prev_hash || canonical(id, time, actor,
 * event, detail)), where canonical is id and time as 8-byte big-endian
 * two's complement, then actor, event and detail each as a 4-byte big-endian
 * length followed by the bytes.  The first prev_hash is 32 zero bytes.
 * Nothing in the code updates or deletes entries; triggers refuse it. */

#define LEDGER_AUDIT_DETAIL_MAX 16384

/* Append an event, e.g. a rejected enrollment.  event: 1..64 characters of
 * [a-z0-9_.-]; detail_json: a JSON object or NULL ("{}").  Secrets never
 * belong here. */
int ledger_audit(struct ledger *l, const char *actor, const char *event,
                 const char *detail_json, struct nrfca_err *err);

/* Walk the chain in id order.  Returns 0 intact, 1 broken (first_broken_id
 * and why say where: "entry 17: hash does not match its contents"), -1 error.
 * *entries gets the number of entries checked.  The stored chain head
 * (audit_head) must name the newest entry, so a truncation of the newest
 * entries is detected unless the head was rewritten too. */
int ledger_audit_verify(struct ledger *l, long long *entries,
                        long long *first_broken_id, char *why, size_t whylen,
                        struct nrfca_err *err);

/* List entries in ascending id.  NULL / 0 fields do not filter: after_id
 * (id > after_id, keyset paging), since (at >= since), until (at < until),
 * actor, event (exact), limit (<= 0: no limit). */
struct ledger_audit_filter {
	long long after_id;
	long long since, until;
	const char *actor;
	const char *event;
	int limit;
};
struct ledger_audit_entry {
	long long id;
	long long at;
	const char *actor;
	const char *event;
	const char *detail;          /* canonical JSON text */
	unsigned char prev_hash[32];
	unsigned char hash[32];
};
int ledger_audit_list(struct ledger *l, const struct ledger_audit_filter *f,
                      int (*cb)(const struct ledger_audit_entry *e, void *arg),
                      void *arg, struct nrfca_err *err);
/* The hash an entry must have by the definition above, from its fields and
 * its prev_hash (what an exported archive is verified with).  0, or -1. */
int ledger_audit_entry_hash(const struct ledger_audit_entry *e, unsigned char out[32]);

/* ---- API credentials: only the SHA-256 of the secret is stored ---- */

enum cred_role { ROLE_STATION, ROLE_OPERATOR, ROLE_AUDITOR, ROLE_MAX };
const char *cred_role_name(enum cred_role r);  /* "station", ... */
int cred_role_from_name(const char *name);     /* -1 if unknown */

#define LEDGER_CRED_NAME_MAX 64
#define LEDGER_CRED_GROUPS_MAX 16      /* groups per credential */
#define LEDGER_CERT_SUBJECT_MAX 512    /* RFC 2253 subject of a bound client certificate */

/* name: 1..64 characters of [A-Za-z0-9_.-].  Audited as "cred_add".
 * NRFCA_E_EXISTS if the name (or the hash) exists. */
int ledger_cred_add(struct ledger *l, const char *name, enum cred_role role,
                    const unsigned char hash[32], const char *actor,
                    struct nrfca_err *err);
/* Options of a new credential; zero fields: none. */
struct ledger_cred_opts {
	long long expires_at; /* unix seconds; 0 = never */
};
int ledger_cred_add_opts(struct ledger *l, const char *name, enum cred_role role,
                         const unsigned char hash[32],
                         const struct ledger_cred_opts *opts, const char *actor,
                         struct nrfca_err *err);

/* Lookup by secret hash: 0 found, 1 not found, -1 error.  *disabled is 0
 * when the credential may be used, 1 when it is disabled, 2 when it has
 * expired (refuse both).  Fast: answers come from an in-memory cache,
 * invalidated by changes through this handle and expiring after at most 2 s
 * (so a change made by another process or instance takes effect within that
 * time). */
int ledger_cred_lookup(struct ledger *l, const unsigned char hash[32],
                       char name[LEDGER_CRED_NAME_MAX + 1], enum cred_role *role,
                       int *disabled, struct nrfca_err *err);

/* Everything about one credential (list callbacks, lookup by certificate). */
struct ledger_cred_info {
	char name[LEDGER_CRED_NAME_MAX + 1];
	enum cred_role role;
	int disabled;                 /* 1 disabled by an operator */
	int expired;                  /* 1 expires_at has passed */
	long long created;            /* unix seconds */
	long long disabled_at;        /* 0 if not disabled */
	long long expires_at;         /* 0 never */
	long long last_used;          /* 0 never (about one minute resolution) */
	int has_cert_sha256;          /* a client certificate fingerprint is bound */
	unsigned char cert_sha256[32];
	char cert_subject[LEDGER_CERT_SUBJECT_MAX + 1]; /* "" none bound */
	int n_groups;
	char groups[LEDGER_CRED_GROUPS_MAX][LEDGER_CRED_NAME_MAX + 1]; /* name order */
};

/* Lookup by client certificate: first by the SHA-256 fingerprint of its DER
 * (may be NULL), then by its RFC 2253 subject (may be NULL).  0 found (out
 * filled; refuse when out->disabled or out->expired), 1 not found, -1
 * error.  Cached like ledger_cred_lookup. */
int ledger_cred_lookup_cert(struct ledger *l, const unsigned char cert_sha256[32],
                            const char *subject, struct ledger_cred_info *out,
                            struct nrfca_err *err);
/* One credential by name: 0 found, 1 not found, -1 error (not cached). */
int ledger_cred_get(struct ledger *l, const char *name, struct ledger_cred_info *out,
                    struct nrfca_err *err);

/* Audited as "cred_disable" / "cred_enable".  NRFCA_E_NOTFOUND;
 * NRFCA_E_CONFLICT if already disabled / not disabled. */
int ledger_cred_disable(struct ledger *l, const char *name, const char *actor,
                        struct nrfca_err *err);
int ledger_cred_enable(struct ledger *l, const char *name, const char *actor,
                       struct nrfca_err *err);
/* New secret hash, same name and role; audited as "cred_rotate".
 * NRFCA_E_NOTFOUND; NRFCA_E_EXISTS if the new hash is registered. */
int ledger_cred_rotate(struct ledger *l, const char *name, const unsigned char hash[32],
                       const char *actor, struct nrfca_err *err);
/* expires_at: unix seconds, 0 = never; audited as "cred_expiry". */
int ledger_cred_set_expiry(struct ledger *l, const char *name, long long expires_at,
                           const char *actor, struct nrfca_err *err);
/* Bind a client certificate to the credential by its SHA-256 fingerprint
 * and/or its RFC 2253 subject (at least one; NULL leaves that binding
 * unchanged).  A fingerprint or subject belongs to one credential at most
 * (NRFCA_E_EXISTS).  Audited as "cred_bind". */
int ledger_cred_bind_cert(struct ledger *l, const char *name,
                          const unsigned char cert_sha256[32], const char *subject,
                          const char *actor, struct nrfca_err *err);
/* Remove both bindings; audited as "cred_unbind".  NRFCA_E_CONFLICT if none. */
int ledger_cred_unbind_cert(struct ledger *l, const char *name, const char *actor,
                            struct nrfca_err *err);
/* Record a use.  Writes last_used at most about once a minute per
 * credential (not on every request), without an audit entry. */
int ledger_cred_touch(struct ledger *l, const char *name, struct nrfca_err *err);

/* Station groups: replace the credential's set of groups (n <= 16 names,
 * same syntax as credential names; n = 0 clears).  Audited as
 * "cred_groups". */
int ledger_cred_set_groups(struct ledger *l, const char *name,
                           const char *const *groups, size_t n, const char *actor,
                           struct nrfca_err *err);
/* *shared = 1 if the two credentials have at least one group in common. */
int ledger_cred_share_group(struct ledger *l, const char *a, const char *b, int *shared,
                            struct nrfca_err *err);

/* All credentials in name order, groups and bindings included. */
int ledger_cred_each(struct ledger *l,
                     int (*cb)(const struct ledger_cred_info *c, void *arg), void *arg,
                     struct nrfca_err *err);
/* The older form of ledger_cred_each. */
int ledger_cred_list(struct ledger *l,
                     int (*cb)(const char *name, enum cred_role role,
                               int disabled, long long created, void *arg),
                     void *arg, struct nrfca_err *err);

/* ---- expected devices (from manufacturing orders) ---- */

enum ledger_scope { LEDGER_SCOPE_STATION, LEDGER_SCOPE_GROUP, LEDGER_SCOPE_MAX };
const char *ledger_scope_name(enum ledger_scope s);  /* "station", "group" */

#define LEDGER_BATCH_MAX 128  /* characters of an import batch label */

/* Import device ids (each 1..64 printable characters) expected at a station
 * or a group, in one transaction, audited once ("devices_import" with the
 * count and batch).  Devices already expected there are kept (not counted in
 * *added, which may be NULL).  batch: a label of the import (the order
 * number), 1..128 printable characters. */
int ledger_expected_import(struct ledger *l, enum ledger_scope kind, const char *scope,
                           const char *batch, const char *const *device_ids, size_t n,
                           const char *actor, long long *added, struct nrfca_err *err);
/* *expected = 1 if device_id is expected at station `station` or at any
 * group the station belongs to. */
int ledger_expected_check(struct ledger *l, const char *device_id, const char *station,
                          int *expected, struct nrfca_err *err);

/* ---- cluster-wide rate limits ---- */

#define LEDGER_BUCKET_MAX 160
#define LEDGER_RATE_BUCKETS_MAX 4

/* Count one event in bucket's current minute (fixed windows of 60 s, unix
 * time) shared by every process on the ledger.  Returns 0 allowed, 1 refused
 * (the event would be the (per_minute + 1)th of this minute; a refused event
 * is not counted; *retry_after_s, may be NULL, gets the seconds until the
 * next window, at least 1), -1 error.  Old windows are pruned.  Not audited.
 * On PostgreSQL the count is committed without waiting for the disk
 * (synchronous_commit off for that transaction only): a crash of the database
 * may forget the last counts, never an issued certificate. */
int ledger_rate_take(struct ledger *l, const char *bucket, int per_minute,
                     int *retry_after_s, struct nrfca_err *err);
/* The same for n (1..4) buckets at once, each with its own limit and window
 * (period_s 60..86400: windows start at multiples of it in unix time): the
 * event is counted in all of them or, when one would go over its limit, in
 * none (e.g. a station's bucket and its profile's bucket).  On refusal
 * *refused_by (may be NULL) gets the index of a bucket that refused and
 * *retry_after_s the seconds until its window ends. */
struct ledger_rate {
	const char *bucket;
	int limit;
	int period_s;
};
int ledger_rate_take_n(struct ledger *l, const struct ledger_rate *r, size_t n, int *retry_after_s,
                       size_t *refused_by, struct nrfca_err *err);

#endif
