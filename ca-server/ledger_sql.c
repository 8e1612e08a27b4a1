/*
 * ledger_sql.c - the ledger's schema and queries, written once for every
 * engine.
 *
 * Parameters are $1, $2 ... in ascending order of first use (SQLite numbers
 * "$N" parameters in order of appearance; PostgreSQL by N).  The words that
 * differ between engines are placeholders: {BLOB} (BLOB / BYTEA), {INT}
 * (INTEGER / BIGINT; SQLite's INTEGER is 64-bit, and INTEGER PRIMARY KEY is
 * its rowid) and {FOR_UPDATE} (nothing on SQLite, whose write transaction
 * already excludes every other writer).  Making a table append-only is an
 * engine function (SQLite: triggers; PostgreSQL: a trigger function).
 */
#include "ledger_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- schema ---- */

static const struct mstep v1[] = {
	{ MS_SQL,
	  "CREATE TABLE certificates ("
	  " serial TEXT PRIMARY KEY,"
	  " device_id TEXT NOT NULL,"
	  " uuid TEXT NOT NULL,"
	  " imei TEXT NOT NULL,"
	  " profile TEXT NOT NULL,"
	  " station TEXT NOT NULL,"
	  " sec_tag {INT} NOT NULL,"
	  " csr_sha256 {BLOB} NOT NULL UNIQUE,"
	  " pubkey_sha256 {BLOB} NOT NULL,"
	  " subject TEXT NOT NULL,"
	  " not_before {INT} NOT NULL,"
	  " not_after {INT} NOT NULL,"
	  " issued_at {INT} NOT NULL,"
	  " status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),"
	  " revoked_at {INT},"
	  " revocation_reason {INT},"
	  " request_id TEXT NOT NULL,"
	  " der {BLOB} NOT NULL);"
	  "CREATE INDEX certificates_device ON certificates (device_id, status, issued_at);"
	  "CREATE INDEX certificates_status ON certificates (status, serial);"
	  "CREATE INDEX certificates_issued ON certificates (issued_at);"
	  "CREATE TABLE audit_log ("
	  " id {INT} PRIMARY KEY,"
	  " at {INT} NOT NULL,"
	  " actor TEXT NOT NULL,"
	  " event TEXT NOT NULL,"
	  " detail TEXT NOT NULL,"
	  " prev_hash {BLOB} NOT NULL,"
	  " hash {BLOB} NOT NULL);"
	  "CREATE TABLE credentials ("
	  " name TEXT PRIMARY KEY,"
	  " role TEXT NOT NULL,"
	  " token_sha256 {BLOB} NOT NULL UNIQUE,"
	  " disabled {INT} NOT NULL,"
	  " created_at {INT} NOT NULL,"
	  " disabled_at {INT});"
	  "CREATE TABLE crl_state ("
	  " id {INT} PRIMARY KEY CHECK (id = 1),"
	  " crl_number {INT} NOT NULL);"
	  "INSERT INTO crl_state (id, crl_number) VALUES (1, 0);",
	  NULL },
	{ MS_APPEND_ONLY, "audit_log", NULL },
	{ MS_SQL, NULL, NULL },
};

/* Schema 2: one active record per device enforced by the database, record
 * kinds and slots, the audit chain head, the revocation counter, credential
 * expiry / last use / client-certificate binding / groups, expected devices,
 * rate windows, audit indexes.  ALTER TABLE adds one column per statement
 * (SQLite's form, which PostgreSQL also accepts). */
static const struct mstep v2[] = {
	{ MS_SQL,
	  "ALTER TABLE certificates ADD COLUMN kind TEXT NOT NULL DEFAULT 'certificate'"
	  " CHECK (kind IN ('certificate', 'public_key'));"
	  "ALTER TABLE certificates ADD COLUMN one_active {INT} NOT NULL DEFAULT 1;"
	  "ALTER TABLE certificates ADD COLUMN slot TEXT NOT NULL DEFAULT '';"
	  "ALTER TABLE crl_state ADD COLUMN revocations {INT} NOT NULL DEFAULT 0;"
	  "ALTER TABLE credentials ADD COLUMN expires_at {INT};"
	  "ALTER TABLE credentials ADD COLUMN last_used_at {INT};"
	  "ALTER TABLE credentials ADD COLUMN cert_sha256 {BLOB};"
	  "ALTER TABLE credentials ADD COLUMN cert_subject TEXT;"
	  "CREATE UNIQUE INDEX credentials_cert ON credentials (cert_sha256);"
	  "CREATE UNIQUE INDEX credentials_subject ON credentials (cert_subject);"
	  "CREATE TABLE credential_groups ("
	  " name TEXT NOT NULL,"
	  " grp TEXT NOT NULL,"
	  " PRIMARY KEY (name, grp));"
	  "CREATE INDEX credential_groups_grp ON credential_groups (grp, name);"
	  "CREATE TABLE expected_devices ("
	  " device_id TEXT NOT NULL,"
	  " scope_kind TEXT NOT NULL CHECK (scope_kind IN ('station', 'group')),"
	  " scope TEXT NOT NULL,"
	  " batch TEXT NOT NULL,"
	  " imported_at {INT} NOT NULL,"
	  " PRIMARY KEY (device_id, scope_kind, scope));"
	  "CREATE TABLE rate_windows ("
	  " bucket TEXT NOT NULL,"
	  " window_start {INT} NOT NULL,"
	  " hits {INT} NOT NULL,"
	  " PRIMARY KEY (bucket, window_start));"
	  "CREATE TABLE audit_head ("
	  " id {INT} PRIMARY KEY CHECK (id = 1),"
	  " last_id {INT} NOT NULL,"
	  " last_hash {BLOB} NOT NULL);"
	  "CREATE INDEX audit_log_at ON audit_log (at);"
	  "CREATE INDEX audit_log_event ON audit_log (event, id);"
	  "CREATE INDEX audit_log_actor ON audit_log (actor, id);",
	  NULL },
	{ MS_FN, NULL, audit_head_init },
	{ MS_FN, NULL, ledger_m2_one_active },
	{ MS_SQL,
	  "CREATE UNIQUE INDEX certificates_one_active ON certificates (device_id, kind)"
	  " WHERE status = 'active' AND one_active = 1;",
	  NULL },
	{ MS_SQL, NULL, NULL },
};

/* Schema 3: the published CRL, one for every process and instance sharing
 * the ledger (whoever signs the newest stores it; everybody serves it). */
static const struct mstep v3[] = {
	{ MS_SQL,
	  "ALTER TABLE crl_state ADD COLUMN published_number {INT} NOT NULL DEFAULT 0;"
	  "ALTER TABLE crl_state ADD COLUMN published_this {INT} NOT NULL DEFAULT 0;"
	  "ALTER TABLE crl_state ADD COLUMN published_next {INT} NOT NULL DEFAULT 0;"
	  "ALTER TABLE crl_state ADD COLUMN published_mark {INT} NOT NULL DEFAULT 0;"
	  "ALTER TABLE crl_state ADD COLUMN published_der {BLOB};",
	  NULL },
	{ MS_SQL, NULL, NULL },
};

/* Schema 4: lists at scale.  Listing is in serial order (keyset paging) and
 * serials are random, so walking (status, serial) read one random table row
 * per candidate to test the other filters: a page of 1,000 with a profile or
 * station filter read tens of thousands of rows of a 1,000,000-row ledger.
 * certificates_list holds every list filter next to the serial, so only the
 * rows a page returns are read; revoked records (the CRL, the revoked count,
 * revoked lists) have a small partial index of their own, which issuing
 * (always 'active') never touches.  Together they replace
 * certificates_status: an issuance updates as many indexes as before. */
static const struct mstep v4[] = {
	{ MS_SQL,
	  "DROP INDEX certificates_status;"
	  "CREATE INDEX certificates_list ON certificates"
	  " (serial, status, kind, profile, station, issued_at);"
	  "CREATE INDEX certificates_revoked ON certificates"
	  " (serial, kind, revoked_at, revocation_reason, profile, station, issued_at)"
	  " WHERE status = 'revoked';",
	  NULL },
	{ MS_SQL, NULL, NULL },
};

/* Schema 5: lists by profile.  A profile filter walked certificates_list in
 * serial order and kept the records of that profile: with another filter
 * on top (issued_after, station) a page of 1,000 read 20,000 to 85,000
 * entries of a 1,000,000-record ledger (10-20 ms).  certificates_profile
 * holds the same columns after the profile, so such a page walks only that
 * profile's entries (a quarter of the ledger in bench_scale's mix, about
 * 7 ms).  An issuance updates one more index. */
static const struct mstep v5[] = {
	{ MS_SQL,
	  "CREATE INDEX certificates_profile ON certificates"
	  " (profile, serial, status, kind, station, issued_at);",
	  NULL },
	{ MS_SQL, NULL, NULL },
};

const struct migration ledger_migrations[] = {
	{ 1, v1 },
	{ 2, v2 },
	{ 3, v3 },
	{ 4, v4 },
	{ 5, v5 },
};
const int ledger_n_migrations = sizeof(ledger_migrations) / sizeof(ledger_migrations[0]);
_Static_assert(sizeof(ledger_migrations) / sizeof(ledger_migrations[0]) == LEDGER_SCHEMA_VERSION,
               "one migration per schema version");

/* ---- queries ---- */

#define CERT_COLS \
	"serial, device_id, uuid, imei, profile, station, sec_tag, csr_sha256," \
	" pubkey_sha256, subject, not_before, not_after, issued_at, status," \
	" revoked_at, revocation_reason, request_id, der, kind, one_active, slot"

#define CRED_COLS \
	"name, role, disabled, created_at, disabled_at, expires_at, last_used_at," \
	" cert_sha256, cert_subject"

const char *const ledger_sql[Q_MAX] = {
	[Q_SCHEMA_VERSION] = "SELECT MAX(version) FROM schema_version",
	[Q_SCHEMA_CREATE] = "CREATE TABLE IF NOT EXISTS schema_version ("
		" version {INT} PRIMARY KEY, applied_at {INT} NOT NULL)",
	[Q_SCHEMA_INSERT] = "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",

	[Q_CERT_SELECT] = "SELECT " CERT_COLS " FROM certificates",
	[Q_CERT_LIST] = "SELECT " CERT_COLS " FROM certificates {IDX_LIST}",
	[Q_CERT_LIST_REVOKED] = "SELECT " CERT_COLS " FROM certificates {IDX_REVOKED}",
	[Q_CERT_LIST_PROFILE] = "SELECT " CERT_COLS " FROM certificates {IDX_PROFILE}",
	[Q_GET] = "SELECT " CERT_COLS " FROM certificates WHERE serial = $1",
	[Q_BY_CSR] = "SELECT " CERT_COLS " FROM certificates WHERE csr_sha256 = $1",
	[Q_ACTIVE_BY_DEVICE] = "SELECT " CERT_COLS " FROM certificates"
		" WHERE device_id = $1 AND status = 'active' AND kind = 'certificate'"
		" ORDER BY issued_at DESC, serial DESC LIMIT 1",
	[Q_HOLDER] = "SELECT " CERT_COLS " FROM certificates"
		" WHERE device_id = $1 AND kind = $2 AND status = 'active' AND one_active = 1",
	/* both of an enrollment's facts in one snapshot: the record of its CSR
	 * (0) before the device's holder (1); column 22, the first after
	 * CERT_COLS' LEDGER_CERT_NCOLS, says which */
	[Q_CSR_OR_HOLDER] = "SELECT " CERT_COLS ", 0 FROM certificates WHERE csr_sha256 = $1"
		" UNION ALL SELECT " CERT_COLS ", 1 FROM certificates"
		" WHERE device_id = $2 AND kind = $3 AND status = 'active' AND one_active = 1"
		" ORDER BY 22 LIMIT 1",
	[Q_SERIAL_EXISTS] = "SELECT 1 FROM certificates WHERE serial = $1",
	[Q_REVOKED_EACH] = "SELECT serial, revoked_at, revocation_reason FROM certificates"
		" {IDX_REVOKED} WHERE status = 'revoked' AND kind = 'certificate' ORDER BY serial",
	/* the revoked count reads only the status index (scraped by /metrics) */
	[Q_COUNT] = "SELECT (SELECT COUNT(*) FROM certificates),"
		" (SELECT COUNT(*) FROM certificates {IDX_REVOKED} WHERE status = 'revoked')",
	[Q_INSERT_CERT] = "INSERT INTO certificates (" CERT_COLS ") VALUES ($1, $2, $3,"
		" $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,"
		" $20, $21)",
	[Q_REVOKE] = "UPDATE certificates SET status = 'revoked', revoked_at = $1,"
		" revocation_reason = $2 WHERE serial = $3 AND status = 'active'",
	[Q_CERT_STATUS] = "SELECT status FROM certificates WHERE serial = $1",
	/* only a revoked certificate changes the CRL: a public-key registration
	 * is never listed, so its revocation leaves the mark (and the CRL) alone */
	[Q_REVOCATION_BUMP] = "UPDATE crl_state SET revocations = revocations + 1 WHERE id = 1"
		" AND EXISTS (SELECT 1 FROM certificates WHERE serial = $1"
		" AND kind = 'certificate')",
	[Q_REVOCATION_MARK] = "SELECT revocations FROM crl_state WHERE id = 1",
	[Q_CRL_NEXT] = "UPDATE crl_state SET crl_number = CASE WHEN crl_number + 1 > $1"
		" THEN crl_number + 1 ELSE $1 END WHERE id = 1 RETURNING crl_number",
	[Q_CRL_STATE] = "SELECT revocations, published_number, published_this, published_next,"
		" published_mark FROM crl_state WHERE id = 1",
	[Q_CRL_PUBLISHED] = "SELECT revocations, published_number, published_this,"
		" published_next, published_mark, published_der FROM crl_state WHERE id = 1",
	[Q_CRL_PUBLISH] = "UPDATE crl_state SET published_number = $1, published_this = $2,"
		" published_next = $3, published_mark = $4, published_der = $5"
		" WHERE id = 1 AND published_number < $1",

	[Q_HEAD_LOAD] = "SELECT last_id, last_hash FROM audit_head WHERE id = 1 {FOR_UPDATE}",
	[Q_HEAD_READ] = "SELECT last_id, last_hash FROM audit_head WHERE id = 1",
	[Q_HEAD_STORE] = "UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1",
	[Q_HEAD_INIT] = "INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, $1, $2)",
	[Q_AUDIT_LAST] = "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
	[Q_AUDIT_INSERT] = "INSERT INTO audit_log (id, at, actor, event, detail, prev_hash, hash)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7)",
	[Q_AUDIT_ALL] = "SELECT id, at, actor, event, detail, prev_hash, hash"
		" FROM audit_log ORDER BY id",

	[Q_CRED_LOOKUP] = "SELECT " CRED_COLS " FROM credentials WHERE token_sha256 = $1",
	[Q_CRED_BY_CERT] = "SELECT " CRED_COLS " FROM credentials WHERE cert_sha256 = $1",
	[Q_CRED_BY_SUBJECT] = "SELECT " CRED_COLS " FROM credentials WHERE cert_subject = $1",
	[Q_CRED_GET] = "SELECT " CRED_COLS " FROM credentials WHERE name = $1",
	[Q_CRED_ALL] = "SELECT " CRED_COLS " FROM credentials ORDER BY name",
	[Q_CRED_GROUPS_ALL] = "SELECT name, grp FROM credential_groups ORDER BY name, grp",
	[Q_CRED_GROUPS_OF] = "SELECT name, grp FROM credential_groups WHERE name = $1 ORDER BY grp",
	[Q_CRED_ADD] = "INSERT INTO credentials (name, role, token_sha256, disabled, created_at,"
		" expires_at) VALUES ($1, $2, $3, 0, $4, $5)",
	[Q_CRED_DISABLE] = "UPDATE credentials SET disabled = 1, disabled_at = $1"
		" WHERE name = $2 AND disabled = 0",
	[Q_CRED_ENABLE] = "UPDATE credentials SET disabled = 0, disabled_at = NULL"
		" WHERE name = $1 AND disabled <> 0",
	[Q_CRED_STATE] = "SELECT disabled FROM credentials WHERE name = $1",
	[Q_CRED_ROTATE] = "UPDATE credentials SET token_sha256 = $1 WHERE name = $2",
	[Q_CRED_EXPIRY] = "UPDATE credentials SET expires_at = $1 WHERE name = $2",
	[Q_CRED_BIND] = "UPDATE credentials SET cert_sha256 = COALESCE($1, cert_sha256),"
		" cert_subject = COALESCE($2, cert_subject) WHERE name = $3",
	[Q_CRED_UNBIND] = "UPDATE credentials SET cert_sha256 = NULL, cert_subject = NULL"
		" WHERE name = $1 AND (cert_sha256 IS NOT NULL OR cert_subject IS NOT NULL)",
	[Q_CRED_TOUCH] = "UPDATE credentials SET last_used_at = $1"
		" WHERE name = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
	[Q_GROUPS_CLEAR] = "DELETE FROM credential_groups WHERE name = $1",
	[Q_GROUP_ADD] = "INSERT INTO credential_groups (name, grp) VALUES ($1, $2)",
	[Q_SHARE_GROUP] = "SELECT 1 FROM credential_groups a JOIN credential_groups b"
		" ON a.grp = b.grp WHERE a.name = $1 AND b.name = $2 LIMIT 1",

	[Q_EXPECTED_ADD] = "INSERT INTO expected_devices (device_id, scope_kind, scope, batch,"
		" imported_at) VALUES ($1, $2, $3, $4, $5)"
		" ON CONFLICT (device_id, scope_kind, scope) DO NOTHING",
	[Q_EXPECTED_CHECK] = "SELECT 1 FROM expected_devices WHERE device_id = $1 AND"
		" ((scope_kind = 'station' AND scope = $2) OR (scope_kind = 'group' AND scope IN"
		" (SELECT grp FROM credential_groups WHERE name = $2))) LIMIT 1",
	[Q_RATE_TAKE] = "INSERT INTO rate_windows (bucket, window_start, hits) VALUES ($1, $2, 1)"
		" ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_windows.hits + 1"
		" RETURNING hits",
	[Q_RATE_PRUNE] = "DELETE FROM rate_windows WHERE window_start < $1",

	[Q_M2_DUPLICATES] = "SELECT c.serial, c.device_id, c.kind FROM certificates c"
		" WHERE c.status = 'active' AND c.one_active = 1 AND EXISTS (SELECT 1 FROM"
		" certificates d WHERE d.device_id = c.device_id AND d.kind = c.kind AND"
		" d.status = 'active' AND d.one_active = 1 AND d.serial <> c.serial)"
		" ORDER BY c.device_id, c.kind, c.issued_at DESC, c.serial DESC",
	[Q_M2_DEMOTE] = "UPDATE certificates SET one_active = 0 WHERE serial = $1",

	[Q_COPY_COUNTS] = "SELECT (SELECT COUNT(*) FROM certificates),"
		" (SELECT COUNT(*) FROM certificates WHERE status = 'revoked'),"
		" (SELECT COUNT(*) FROM credentials), (SELECT COUNT(*) FROM credential_groups),"
		" (SELECT COUNT(*) FROM expected_devices), (SELECT COUNT(*) FROM audit_log)",
	[Q_COPY_CERTS] = "SELECT " CERT_COLS " FROM certificates ORDER BY serial",
	[Q_COPY_CREDS] = "SELECT name, role, token_sha256, disabled, created_at, disabled_at,"
		" expires_at, last_used_at, cert_sha256, cert_subject FROM credentials ORDER BY name",
	[Q_COPY_CRED_INSERT] = "INSERT INTO credentials (name, role, token_sha256, disabled,"
		" created_at, disabled_at, expires_at, last_used_at, cert_sha256, cert_subject)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
	[Q_COPY_EXPECTED] = "SELECT device_id, scope_kind, scope, batch, imported_at"
		" FROM expected_devices ORDER BY device_id, scope_kind, scope",
	[Q_COPY_CRL] = "SELECT crl_number, revocations FROM crl_state WHERE id = 1",
	[Q_COPY_CRL_SET] = "UPDATE crl_state SET crl_number = $1, revocations = $2 WHERE id = 1",
};

/* What each engine reports for a violated unique constraint: SQLite names
 * the columns, PostgreSQL the constraint or index. */
static const struct {
	enum lcons id;
	const char *sqlite, *pg;
} constraints[] = {
	{ LCONS_CERT_SERIAL, "certificates.serial", "certificates_pkey" },
	{ LCONS_CERT_CSR, "certificates.csr_sha256", "certificates_csr_sha256_key" },
	{ LCONS_ONE_ACTIVE, "certificates.device_id, certificates.kind", "certificates_one_active" },
	{ LCONS_CRED_NAME, "credentials.name", "credentials_pkey" },
	{ LCONS_CRED_TOKEN, "credentials.token_sha256", "credentials_token_sha256_key" },
	{ LCONS_CRED_CERT, "credentials.cert_sha256", "credentials_cert" },
	{ LCONS_CRED_SUBJECT, "credentials.cert_subject", "credentials_subject" },
};

enum lcons ledger_constraint(const char *reported)
{
	size_t i;

	if (reported == NULL)
		return LCONS_OTHER;
	for (i = 0; i < sizeof(constraints) / sizeof(constraints[0]); i++)
		if (strcmp(reported, constraints[i].sqlite) == 0 || strcmp(reported, constraints[i].pg) == 0)
			return constraints[i].id;
	return LCONS_OTHER;
}

/* Write the expansion into out (when not NULL); the length either way. */
static size_t expand(const char *sql, const char *const *dialect, char *out)
{
	static const char *const words[LD_MAX] = {
		[LD_BLOB] = "{BLOB}",
		[LD_INT] = "{INT}",
		[LD_FOR_UPDATE] = "{FOR_UPDATE}",
		[LD_ASYNC_COMMIT] = "{ASYNC_COMMIT}",
		[LD_IDX_LIST] = "{IDX_LIST}",
		[LD_IDX_REVOKED] = "{IDX_REVOKED}",
		[LD_IDX_PROFILE] = "{IDX_PROFILE}",
	};
	size_t n = 0, wl;
	const char *p = sql;
	int w;

	while (*p != '\0') {
		for (w = 0; w < LD_MAX; w++)
			if (strncmp(p, words[w], strlen(words[w])) == 0)
				break;
		if (w == LD_MAX) {
			if (out != NULL)
				out[n] = *p;
			n++;
			p++;
			continue;
		}
		wl = strlen(dialect[w]);
		if (out != NULL)
			memcpy(out + n, dialect[w], wl);
		n += wl;
		p += strlen(words[w]);
	}
	if (out != NULL)
		out[n] = '\0';
	return n;
}

char *ledger_sql_expand(const char *sql, const char *const *dialect)
{
	char *out = malloc(expand(sql, dialect, NULL) + 1);

	if (out != NULL)
		expand(sql, dialect, out);
	return out;
}
