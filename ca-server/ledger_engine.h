/*
 * ledger_engine.h - what a database engine supplies to the ledger core
 * (internal to the ledger_*.c files).
 *
 * The core (ledger_core.c and friends) owns the schema, the queries, the
 * writer thread, the connection pool, the audit chain and every rule.  An
 * engine only connects, runs a query with typed parameters, hands back rows
 * and maps its errors into struct nrfca_err.  Queries are written once with
 * $1, $2 ... parameters, numbered in ascending order of first use, in SQL
 * both engines accept; the few words that differ are substituted by the core
 * from the engine's dialect table (ldialect) before preparing.
 *
 * Threads: a connection is used by one thread at a time (the core's pool
 * guarantees it).  An engine's functions are otherwise free of shared state,
 * except what it keeps in its struct leng.
 */
#ifndef NRFCA_LEDGER_ENGINE_H
#define NRFCA_LEDGER_ENGINE_H

#include <stddef.h>

#include "error.h"
#include "ledger.h"

struct leng;  /* one opened database: path or connection parameters */
struct lconn; /* one connection */
struct lres;  /* the rows of one running statement */

enum lval_type { LV_NULL, LV_TEXT, LV_INT, LV_BLOB };

/* A query parameter. */
struct lval {
	enum lval_type t;
	const char *s;    /* LV_TEXT, NUL-terminated */
	long long i;      /* LV_INT */
	const void *b;    /* LV_BLOB */
	size_t n;         /* LV_BLOB length */
};

#define LQ_MAX_PARAMS 24

/* Words that differ between engines, substituted in queries and DDL. */
enum ldialect {
	LD_BLOB,        /* {BLOB}: a byte string column type */
	LD_INT,         /* {INT}: a 64-bit integer column type */
	LD_FOR_UPDATE,  /* {FOR_UPDATE}: lock the selected rows until COMMIT */
	LD_ASYNC_COMMIT, /* a statement that lets the running transaction commit
	                    without waiting for the disk ("" where the engine has
	                    none): only for writes that may be lost in a crash */
	LD_IDX_LIST,    /* {IDX_LIST}: after "FROM certificates", walk certificates_list */
	LD_IDX_REVOKED, /* {IDX_REVOKED}: the same for certificates_revoked */
	LD_IDX_PROFILE, /* {IDX_PROFILE}: the same for certificates_profile */
	LD_MAX
};

enum lconn_role {
	LC_WRITER,  /* the writer thread's connection; creates the database */
	LC_READER,  /* a pool connection: reads; on engines with concurrent
	               writers also short write transactions of their own */
};

enum ltxn {
	LT_WRITE,   /* a write transaction (SQLite: BEGIN IMMEDIATE) */
	LT_MIGRATE, /* a write transaction that also excludes every other
	               migrating process (PostgreSQL: an advisory lock) */
};

struct ledger_engine {
	const char *name;           /* "sqlite", "postgresql" */
	/* several processes may write at the same time (PostgreSQL): the core
	 * then runs un-audited small writes (rate windows, last-used) on pool
	 * connections instead of queueing them to the writer */
	int concurrent_writers;
	/* 1: before a batch the writer waits briefly for callers that were
	 * answered with the last batch (commit_delay in ledger_core.c).  Worth
	 * it where a commit costs a round trip and the server's own CPU
	 * (PostgreSQL); where it is a local fdatasync (SQLite) the batches that
	 * queue during a commit are as large, and the wait only adds idle time. */
	int commit_wait;
	const char *const *dialect; /* indexed by enum ldialect */

	/* Parse the target (what follows "sqlite:" or the whole PostgreSQL
	 * string) and remember how to connect.  Checks nothing over the
	 * network.  cfg stays valid while the engine is open. */
	int (*open)(const char *target, const struct ledger_config *cfg, struct leng **out,
	            struct nrfca_err *err);
	void (*close)(struct leng *e);
	/* Describe the database without secrets, for messages and ledger_info. */
	const char *(*where)(const struct leng *e);
	int (*describe)(struct leng *e, struct lconn *c, char *buf, size_t n,
	                struct nrfca_err *err);

	int (*connect)(struct leng *e, enum lconn_role role, struct lconn **out,
	               struct nrfca_err *err);
	void (*disconnect)(struct lconn *c);
	/* 0 once the connection is known to be unusable (lost, broken): the
	 * core discards it and connects again, with backoff. */
	int (*usable)(const struct lconn *c);

	/* Optional: the schema on the writer's connection is current.  The
	 * SQLite engine keeps an image of an in-memory ledger then
	 * (ledger_config.memory), and later in-memory ledgers start from it
	 * instead of running every migration again. */
	void (*migrated)(struct lconn *c);

	/* Optional: the writer thread has answered a batch and holds no
	 * transaction; upkeep that must not delay an answer (SQLite: the tail
	 * of a background checkpoint). */
	void (*idle)(struct lconn *writer);
	/* Optional: WAL pages checkpointed in the background and by the
	 * writer (ledger_stats). */
	void (*checkpoint_stats)(struct leng *e, long long *background, long long *writer);

	/* Run a script of statements without parameters or rows (DDL). */
	int (*exec)(struct lconn *c, const char *sql, const char *what, struct nrfca_err *err);
	int (*begin)(struct lconn *c, enum ltxn kind, struct nrfca_err *err);

	/* Start a statement.  id >= 0: the core's query number, prepared once
	 * per connection and cached; id < 0: a one-off statement.  The rows
	 * are then read with next().  Errors: NRFCA_E_DB and friends, or
	 * NRFCA_E_EXISTS for a unique constraint with *constraint (may be
	 * NULL) set to what the engine says was violated ("table.col, ..."
	 * or a constraint name); the core maps it. */
	int (*query)(struct lconn *c, int id, const char *sql, const struct lval *p, int np,
	             struct lres **out, const char **constraint, struct nrfca_err *err);
	/* 1 a row is ready, 0 no more rows (then the statement is finished),
	 * -1 error (constraint as for query). */
	int (*next)(struct lres *r, const char **constraint, struct nrfca_err *err);
	/* Columns of the current row (0-based).  Text and blob pointers stay
	 * valid until the next call of next() or end(). */
	int (*is_null)(struct lres *r, int col);
	long long (*col_int)(struct lres *r, int col);
	const char *(*col_text)(struct lres *r, int col, size_t *len);
	const void *(*col_blob)(struct lres *r, int col, size_t *len);
	/* Rows changed by the finished statement (INSERT, UPDATE, DELETE). */
	long long (*changes)(struct lres *r);
	/* Finish the statement (also when rows are left unread). */
	void (*end)(struct lres *r);

	/* Online copy to a new file (SQLite); NULL where not possible. */
	int (*backup)(struct leng *e, const char *dest, struct nrfca_err *err);
	/* A full consistency check of the database behind c; NULL: none. */
	int (*integrity)(struct lconn *c, struct nrfca_err *err);
	/* Make `table` append-only (refuse UPDATE and DELETE, and TRUNCATE
	 * where the engine has it), inside the running transaction. */
	int (*append_only)(struct lconn *c, const char *table, struct nrfca_err *err);
};

extern const struct ledger_engine ledger_engine_sqlite;
extern const struct ledger_engine ledger_engine_pg; /* NULL-free only when built */

#endif
