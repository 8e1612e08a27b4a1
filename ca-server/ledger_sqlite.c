/*
 * ledger_sqlite.c - the SQLite engine of the ledger (see ledger_engine.h).
 *
 * WAL mode with synchronous=FULL: a COMMIT is on disk before it returns, and
 * readers run beside the one writer.  Pool connections are query_only.  The
 * database file is created mode 0600 before SQLite opens it (SQLite gives
 * its -wal and -shm files the database file's mode).  With cfg->exclusive
 * the engine holds an flock on "<db>.lock" (holding our pid) for the life of
 * the handle: one server per SQLite ledger.
 */
#include "ledger_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sqlite_walbuf.h"

/* Checkpoints (copying the WAL's pages into the database so the WAL can
 * start over) run on a thread of their own instead of inside a COMMIT of
 * the writer: SQLite's automatic checkpoint would make every ~100th group
 * commit wait for a thousand page copies and an fsync of the database.
 * The writer's WAL hook wakes the checkpointer once the WAL holds
 * CKPT_PAGES pages; its PASSIVE checkpoint runs beside the writer.  Frames
 * committed meanwhile are left, so after each background pass the writer
 * copies that short tail itself between batches (s_idle), which lets the
 * next transaction restart the WAL from its beginning.  Should the WAL
 * still reach CKPT_PAGES_MAX (a reader holding an old snapshot, a slow
 * disk), the writer checkpoints inline as SQLite would. */
#define CKPT_PAGES 4000        /* ~16 MB of WAL */
#define CKPT_PAGES_MAX 64000   /* ~256 MB */
#define WAL_SIZE_LIMIT (64LL * 1024 * 1024)

struct ckpt {
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int want, stop;
	int wal_open;          /* the checkpointer's connection has read once */
	atomic_int done;       /* a background pass ended: the writer copies the tail */
	sqlite3 *db;           /* the checkpointer's own connection */
	atomic_llong passes;   /* background checkpoints run */
	/* WAL pages copied into the database by the checkpointer, and by the
	 * writer itself (the tail after a pass, or inline at CKPT_PAGES_MAX) */
	atomic_llong pages_bg, pages_writer;
	/* the WAL starts over after a full checkpoint: the writer's WAL hook
	 * sees fewer frames than after its last commit and counts a new
	 * generation (wal_pages is the writer's alone) */
	int wal_pages;
	atomic_long wal_gen;
	long last_gen;                      /* of the last checkpoint counted (under mu) */
	long long last_backfill;            /* its result (under mu) */
};

/* A checkpoint left `backfill` of the WAL's frames in the database.  It
 * copied that less what the last checkpoint of the same WAL generation had
 * left; in a new generation, all of it. */
static void count_ckpt(struct ckpt *k, int backfill, atomic_llong *to)
{
	long gen = atomic_load(&k->wal_gen);
	long long copied;

	if (backfill < 0)
		return;
	pthread_mutex_lock(&k->mu);
	copied = gen != k->last_gen || backfill < k->last_backfill ? backfill
								   : backfill - k->last_backfill;
	k->last_gen = gen;
	k->last_backfill = backfill;
	pthread_mutex_unlock(&k->mu);
	atomic_fetch_add(to, copied);
}

struct leng {
	char *path;
	const struct ledger_config *cfg;
	int lock_fd;
	char *lock_path;
	struct ckpt ck;
};

struct lres {
	struct lconn *c;
	sqlite3_stmt *st;
	int one_off;
	long long changes;
};

struct lconn {
	struct leng *e;
	sqlite3 *db;
	sqlite3_stmt **st;   /* prepared queries by id */
	int n_st;
	struct lres res;     /* the one statement running on this connection */
	int busy;
};

/* ---- errors ---- */

static int db_fail(const struct leng *e, struct nrfca_err *err, int rc, sqlite3 *db, const char *what)
{
	const char *detail = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return nrfca_err_set(err, NRFCA_E_DB,
		                     "database is busy: another process held its lock for more than %d ms while %s",
		                     e->cfg->busy_timeout_ms, what);
	case SQLITE_FULL:
		return nrfca_err_set(err, NRFCA_E_DB, "database disk is full while %s: free space on the disk of %s",
		                     what, e->path);
	case SQLITE_READONLY:
		return nrfca_err_set(err, NRFCA_E_DB,
		                     "database is read-only while %s: check the permissions of %s and its directory",
		                     what, e->path);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return nrfca_err_set(err, NRFCA_E_DB, "database %s is corrupt or not a database (%s)", e->path, detail);
	case SQLITE_CANTOPEN:
		if (db != NULL && sqlite3_system_errno(db) != 0)
			return nrfca_err_set(err, NRFCA_E_DB, "cannot open database %s: %s", e->path,
			                     strerror(sqlite3_system_errno(db)));
		return nrfca_err_set(err, NRFCA_E_DB, "cannot open database %s: %s", e->path, detail);
	case SQLITE_IOERR:
		return nrfca_err_set(err, NRFCA_E_DB, "database I/O error while %s on %s (%s)", what, e->path, detail);
	case SQLITE_NOMEM:
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory while %s", what);
	case SQLITE_CONSTRAINT:
		return nrfca_err_set(err, NRFCA_E_INPUT, "refused by the database while %s: %s", what, detail);
	default:
		return nrfca_err_set(err, NRFCA_E_DB, "database error while %s: %s", what, detail);
	}
}

/* ---- the lock file: one server per SQLite ledger ---- */

static int lock_take(struct leng *e, struct nrfca_err *err)
{
	char buf[128] = "", prog[65] = "another process";
	long pid = 0;
	ssize_t n;
	int fd;

	e->lock_path = malloc(strlen(e->path) + 6);
	if (e->lock_path == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	sprintf(e->lock_path, "%s.lock", e->path);
	fd = open(e->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return nrfca_err_set(err, NRFCA_E_DB, "cannot open the ledger's lock file %s: %s", e->lock_path,
		                     strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		if (sscanf(buf, "%ld %64s", &pid, prog) < 1)
			pid = 0;
		close(fd);
		if (pid > 0)
			return nrfca_err_set(err, NRFCA_E_EXISTS,
			                     "ledger %s is already in use by %s (pid %ld); one server per SQLite ledger, "
			                     "use PostgreSQL for several instances",
			                     e->path, prog, pid);
		return nrfca_err_set(err, NRFCA_E_EXISTS,
		                     "ledger %s is already in use by another process (it holds %s); one server per "
		                     "SQLite ledger, use PostgreSQL for several instances",
		                     e->path, e->lock_path);
	}
	n = snprintf(buf, sizeof(buf), "%ld %s\n", (long)getpid(), e->cfg->program);
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		close(fd);
		return nrfca_err_set(err, NRFCA_E_DB, "cannot write the ledger's lock file %s: %s", e->lock_path,
		                     strerror(errno));
	}
	e->lock_fd = fd;
	return 0;
}

/* Create the database file 0600 (or tighten one of ours that group or others
 * may read), and the same for an existing -wal / -shm. */
static int file_modes(struct leng *e, struct nrfca_err *err)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char *p = malloc(strlen(e->path) + 5);
	struct stat st;
	size_t i;
	int fd;

	if (p == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	fd = open(e->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0)
		close(fd);  /* otherwise SQLite reports why (read-only, missing folder) */
	for (i = 0; i < 3; i++) {
		sprintf(p, "%s%s", e->path, sfx[i]);
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 077) != 0)
			chmod(p, st.st_mode & 0700);
	}
	free(p);
	return 0;
}

/* SQLite counts every allocation in global statistics under one mutex
 * (SQLITE_CONFIG_MEMSTATUS, on by default), which every connection of every
 * thread takes; nrfca reads none of those statistics.  Must come before
 * SQLite initialises; later it is refused (SQLITE_MISUSE) and harmless. */
static void s_config_once(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int s_open(const char *target, const struct ledger_config *cfg, struct leng **out, struct nrfca_err *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct leng *e;

	pthread_once(&once, s_config_once);
	if (sqlite3_threadsafe() == 0)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "the SQLite library is built without thread support");
	e = calloc(1, sizeof(*e));
	if (e == NULL || (e->path = strdup(target)) == NULL) {
		free(e);
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory opening the ledger");
	}
	e->cfg = cfg;
	e->lock_fd = -1;
	if (cfg->memory) {
		/* a private memdb database, shared by this handle's connections */
		static atomic_ulong seq;
		char name[96];

		snprintf(name, sizeof(name), "file:/nrfca-memory-%ld-%lu?vfs=memdb", (long)getpid(),
			 atomic_fetch_add(&seq, 1));
		free(e->path);
		if ((e->path = strdup(name)) == NULL) {
			free(e);
			return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory opening the ledger");
		}
		*out = e;
		return 0;
	}
	if ((cfg->exclusive && lock_take(e, err) != 0) || file_modes(e, err) != 0) {
		free(e->lock_path);
		free(e->path);
		free(e);
		return -1;
	}
	*out = e;
	return 0;
}

static void ckpt_stop(struct leng *e);

static void s_close(struct leng *e)
{
	if (e == NULL)
		return;
	ckpt_stop(e);
	if (e->lock_fd >= 0) {
		if (ftruncate(e->lock_fd, 0) != 0) {
			/* the stale pid is harmless: the lock is what counts */
		}
		close(e->lock_fd);
	}
	free(e->lock_path);
	free(e->path);
	free(e);
}

static const char *s_where(const struct leng *e)
{
	return e->path;
}

/* ---- in-memory ledgers (tests only): start from a copy of a migrated one ---- */

static pthread_mutex_t image_mu = PTHREAD_MUTEX_INITIALIZER;
static sqlite3 *image;   /* a private in-memory copy of a migrated, empty ledger */

/* Copy every page of `from` into `to` (SQLite's backup API). */
static int copy_db(sqlite3 *to, sqlite3 *from)
{
	sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
	int rc;

	if (b == NULL)
		return -1;
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void s_migrated(struct lconn *c)
{
	if (!c->e->cfg->memory)
		return;
	pthread_mutex_lock(&image_mu);
	if (image == NULL && sqlite3_open_v2(":memory:", &image, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	                                      NULL) == SQLITE_OK && copy_db(image, c->db) != 0) {
		sqlite3_close(image);
		image = NULL;
	}
	pthread_mutex_unlock(&image_mu);
}

/* The writer's connection of a new in-memory ledger: the copy (the
 * migrations then find the schema current).  Without one, they run. */
static void load_image(sqlite3 *db)
{
	pthread_mutex_lock(&image_mu);
	if (image != NULL && copy_db(db, image) != 0) {
		/* the migrations run instead */
	}
	pthread_mutex_unlock(&image_mu);
}

/* ---- checkpoints ---- */

static void *ckpt_main(void *arg)
{
	struct leng *e = arg;
	struct ckpt *k = &e->ck;

	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (!k->want && !k->stop)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->stop)
			break;
		k->want = 0;
		pthread_mutex_unlock(&k->mu);
		/* A connection opens the WAL with its first read.  Until then
		 * sqlite3_wal_checkpoint_v2 takes the database for a rollback-
		 * journal one and returns at once, copying nothing (pnLog -1):
		 * round 3 shipped it so, and the writer's tail copy did every
		 * checkpoint, 4,000 pages at a time (6-9 ms while every caller
		 * waited).  Read here, when the writer has long set up the file
		 * (at ckpt_start its connection is still being configured). */
		if (!k->wal_open)
			k->wal_open = sqlite3_exec(k->db, "SELECT count(*) FROM sqlite_schema", NULL,
						   NULL, NULL) == SQLITE_OK;
		/* BUSY (another checkpoint running) or an I/O error: the next
		 * wake-up or the writer's inline checkpoint tries again */
		int backfill = -1;

		if (sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
					      &backfill) == SQLITE_OK) {
			atomic_fetch_add(&k->passes, 1);
			count_ckpt(k, backfill, &k->pages_bg);
			atomic_store(&k->done, 1);
		}
		pthread_mutex_lock(&k->mu);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

/* The checkpointer of a file ledger, started with its writer connection.
 * Without it (no memory, no thread), SQLite's automatic checkpoints stay. */
static int ckpt_start(struct leng *e)
{
	struct ckpt *k = &e->ck;

	if (k->started)
		return 0;
	if (sqlite3_open_v2(e->path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sqlite3_close(k->db);
		k->db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(k->db, e->cfg->busy_timeout_ms);
	if (pthread_mutex_init(&k->mu, NULL) != 0)
		goto fail_db;
	if (pthread_cond_init(&k->cv, NULL) != 0)
		goto fail_mu;
	k->want = k->stop = k->wal_open = 0;
	if (pthread_create(&k->thread, NULL, ckpt_main, e) != 0)
		goto fail_cv;
	k->started = 1;
	return 0;
fail_cv:
	pthread_cond_destroy(&k->cv);
fail_mu:
	pthread_mutex_destroy(&k->mu);
fail_db:
	sqlite3_close(k->db);
	k->db = NULL;
	return -1;
}

static void ckpt_stop(struct leng *e)
{
	struct ckpt *k = &e->ck;

	if (!k->started)
		return;
	pthread_mutex_lock(&k->mu);
	k->stop = 1;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->thread, NULL);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	sqlite3_close(k->db);
	k->db = NULL;
	k->started = 0;
}

/* After every commit of the writer: wake the checkpointer, or checkpoint
 * here when the WAL has grown past what a background pass keeps up with. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct ckpt *k = &((struct leng *)arg)->ck;

	if (pages < k->wal_pages)
		atomic_fetch_add(&k->wal_gen, 1);
	k->wal_pages = pages;
	if (pages >= CKPT_PAGES_MAX) {
		int backfill = -1;

		if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, &backfill) ==
		    SQLITE_OK)
			count_ckpt(k, backfill, &k->pages_writer);
		return SQLITE_OK;
	}
	if (pages >= CKPT_PAGES) {
		pthread_mutex_lock(&k->mu);
		if (!k->want) {
			k->want = 1;
			pthread_cond_signal(&k->cv);
		}
		pthread_mutex_unlock(&k->mu);
	}
	return SQLITE_OK;
}

/* ---- connections ---- */

static int pragma(struct leng *e, sqlite3 *db, const char *sql, struct nrfca_err *err)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(e, err, rc, db, "configuring the connection");
}

static int s_connect(struct leng *e, enum lconn_role role, struct lconn **out, struct nrfca_err *err)
{
	struct lconn *c = calloc(1, sizeof(*c));
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char sql[96];
	int rc, ret = -1;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;

	if (c == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory opening a database connection");
	if (role == LC_WRITER)
		flags |= SQLITE_OPEN_CREATE;
	if (e->cfg->memory)
		flags |= SQLITE_OPEN_URI;
	/* file ledgers: the WAL's writes of a commit gathered into one system
	 * call (sqlite_walbuf.c; needs the synchronous=FULL set below) */
	rc = sqlite3_open_v2(e->path, &db, flags, e->cfg->memory ? NULL : nrfca_walbuf_vfs());
	if (rc != SQLITE_OK) {
		db_fail(e, err, rc, db, "opening");
		goto out;
	}
	sqlite3_busy_timeout(db, e->cfg->busy_timeout_ms);
	if (e->cfg->memory && role == LC_WRITER)
		load_image(db);
	if (sqlite3_db_readonly(db, "main") == 1) {
		nrfca_err_set(err, NRFCA_E_DB, "database %s is read-only: the CA must be able to write it and its directory",
		              e->path);
		goto out;
	}
	/* Reading the journal mode is the first access: it catches a file
	 * that is not a database. */
	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		db_fail(e, err, rc, db, "switching to WAL mode");
		goto out;
	}
	if (sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), e->cfg->memory ? "memory" : "wal") != 0) {
		nrfca_err_set(err, NRFCA_E_DB, "database %s cannot use WAL mode (is it on a network file system?)", e->path);
		goto out;
	}
	if (pragma(e, db, "PRAGMA synchronous=FULL", err))
		goto out;
	/* readers keep 8 MiB of pages (SQLite's default: 2 MB), so that the
	 * inner pages of a large ledger's table and list indexes stay cached
	 * and a list page of 1,000 reads about one page per record */
	if (role != LC_WRITER && (pragma(e, db, "PRAGMA query_only=1", err) ||
	                          pragma(e, db, "PRAGMA cache_size=-8192", err)))
		goto out;
	/* the writer: each change of a batch runs in a SAVEPOINT, whose undo
	 * copies of pages SQLite keeps in a temporary file once they pass
	 * 64 KiB (a write(2) per page, every batch of more than a few
	 * enrollments); in memory they cost no system call.  And 32 MiB of
	 * pages, so that the index pages a random serial, CSR hash and device
	 * id land on are mostly at hand in a large ledger. */
	if (role == LC_WRITER && (pragma(e, db, "PRAGMA temp_store=MEMORY", err) ||
	                          pragma(e, db, "PRAGMA cache_size=-32768", err)))
		goto out;
	if (role == LC_WRITER && !e->cfg->memory && ckpt_start(e) == 0) {
		char lim[64];

		snprintf(lim, sizeof(lim), "PRAGMA journal_size_limit=%lld", WAL_SIZE_LIMIT);
		if (pragma(e, db, lim, err))
			goto out;
		sqlite3_wal_hook(db, on_wal, e); /* replaces the automatic checkpoint */
	}
	if (role == LC_WRITER && e->cfg->max_db_pages > 0) {
		snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%lld", e->cfg->max_db_pages);
		if (pragma(e, db, sql, err))
			goto out;
	}
	c->e = e;
	c->db = db;
	db = NULL;
	*out = c;
	c = NULL;
	ret = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(c);
	return ret;
}

static void s_disconnect(struct lconn *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_st; i++)
		sqlite3_finalize(c->st[i]);
	free(c->st);
	sqlite3_close(c->db);
	free(c);
}

static int s_usable(const struct lconn *c)
{
	(void)c;
	return 1; /* a local file does not go away like a server */
}

static void s_checkpoint_stats(struct leng *e, long long *background, long long *writer)
{
	*background = atomic_load(&e->ck.pages_bg);
	*writer = atomic_load(&e->ck.pages_writer);
}

static void s_idle(struct lconn *c)
{
	struct ckpt *k = &c->e->ck;
	int backfill = -1;

	if (!atomic_exchange(&k->done, 0))
		return;
	if (sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, &backfill) ==
	    SQLITE_OK)
		count_ckpt(k, backfill, &k->pages_writer);
}

static int s_exec(struct lconn *c, const char *sql, const char *what, struct nrfca_err *err)
{
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(c->e, err, rc, c->db, what);
}

static int s_begin(struct lconn *c, enum ltxn kind, struct nrfca_err *err)
{
	(void)kind; /* BEGIN IMMEDIATE already excludes every other writer */
	return s_exec(c, "BEGIN IMMEDIATE", "starting a transaction", err);
}

/* ---- statements ---- */

static int bind(struct lconn *c, sqlite3_stmt *st, const struct lval *p, int np, struct nrfca_err *err)
{
	int i, rc = SQLITE_OK;

	for (i = 0; i < np && rc == SQLITE_OK; i++) {
		switch (p[i].t) {
		case LV_TEXT:
			rc = sqlite3_bind_text(st, i + 1, p[i].s, -1, SQLITE_STATIC);
			break;
		case LV_INT:
			rc = sqlite3_bind_int64(st, i + 1, p[i].i);
			break;
		case LV_BLOB:
			rc = sqlite3_bind_blob(st, i + 1, p[i].b, (int)p[i].n, SQLITE_STATIC);
			break;
		default:
			rc = sqlite3_bind_null(st, i + 1);
			break;
		}
	}
	return rc == SQLITE_OK ? 0 : db_fail(c->e, err, rc, c->db, "binding a query parameter");
}

static int s_query(struct lconn *c, int id, const char *sql, const struct lval *p, int np, struct lres **out,
                   const char **constraint, struct nrfca_err *err)
{
	sqlite3_stmt *st = NULL, **grown;
	int rc;

	(void)constraint;
	if (c->busy)
		return nrfca_err_set(err, NRFCA_E_INTERNAL, "a query was started while another one runs");
	if (id >= c->n_st) {
		grown = realloc(c->st, (size_t)(id + 16) * sizeof(*grown));
		if (grown == NULL)
			return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory preparing a query");
		memset(grown + c->n_st, 0, (size_t)(id + 16 - c->n_st) * sizeof(*grown));
		c->st = grown;
		c->n_st = id + 16;
	}
	if (id >= 0)
		st = c->st[id];
	if (st == NULL) {
		rc = sqlite3_prepare_v3(c->db, sql, -1, id >= 0 ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL);
		if (rc != SQLITE_OK)
			return db_fail(c->e, err, rc, c->db, "preparing a query");
		if (id >= 0)
			c->st[id] = st;
	}
	c->res.c = c;
	c->res.st = st;
	c->res.one_off = id < 0;
	c->res.changes = 0;
	c->busy = 1;
	if (bind(c, st, p, np, err) != 0) {
		c->busy = 0;
		sqlite3_clear_bindings(st);
		if (id < 0)
			sqlite3_finalize(st);
		return -1;
	}
	*out = &c->res;
	return 0;
}

static int s_next(struct lres *r, const char **constraint, struct nrfca_err *err)
{
	static const char prefix[] = "UNIQUE constraint failed: ";
	struct lconn *c = r->c;
	int rc = sqlite3_step(r->st); /* extended result codes: SQLITE_CONSTRAINT_* */
	const char *msg;

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE) {
		r->changes = sqlite3_changes64(c->db);
		return 0;
	}
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
		msg = sqlite3_errmsg(c->db);
		if (constraint != NULL)
			*constraint = strncmp(msg, prefix, sizeof(prefix) - 1) == 0 ? msg + sizeof(prefix) - 1 : NULL;
		return nrfca_err_set(err, NRFCA_E_EXISTS, "refused by the database: %s", msg);
	}
	return db_fail(c->e, err, rc, c->db, "running a query");
}

static int s_is_null(struct lres *r, int col)
{
	return sqlite3_column_type(r->st, col) == SQLITE_NULL;
}

static long long s_col_int(struct lres *r, int col)
{
	return sqlite3_column_int64(r->st, col);
}

static const char *s_col_text(struct lres *r, int col, size_t *len)
{
	const char *s = (const char *)sqlite3_column_text(r->st, col);

	*len = s != NULL ? (size_t)sqlite3_column_bytes(r->st, col) : 0;
	return s;
}

static const void *s_col_blob(struct lres *r, int col, size_t *len)
{
	const void *p = sqlite3_column_blob(r->st, col);

	*len = p != NULL ? (size_t)sqlite3_column_bytes(r->st, col) : 0;
	return p;
}

static long long s_changes(struct lres *r)
{
	return r->changes;
}

static void s_end(struct lres *r)
{
	if (r->one_off) {
		sqlite3_finalize(r->st);
	} else {
		sqlite3_reset(r->st);
		sqlite3_clear_bindings(r->st);
	}
	r->st = NULL;
	r->c->busy = 0;
}

/* ---- the rest ---- */

static int s_describe(struct leng *e, struct lconn *c, char *buf, size_t n, struct nrfca_err *err)
{
	(void)c;
	(void)err;
	snprintf(buf, n, "sqlite:%s (SQLite %s, WAL, synchronous=FULL%s)", e->path, sqlite3_libversion(),
	         e->lock_fd >= 0 ? ", held by this process" : "");
	return 0;
}

static int s_backup(struct leng *e, const char *dest, struct nrfca_err *err)
{
	struct leng de = { .path = (char *)dest, .cfg = e->cfg, .lock_fd = -1 };
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int fd, rc, ret = -1;

	fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return nrfca_err_set(err, NRFCA_E_IO, "cannot create %s: %s", dest, strerror(errno));
	close(fd);
	rc = sqlite3_open_v2(e->path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_EXRESCODE, NULL);
	if (rc != SQLITE_OK) {
		db_fail(e, err, rc, src, "opening the ledger for a backup");
		goto out;
	}
	sqlite3_busy_timeout(src, e->cfg->busy_timeout_ms);
	rc = sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE, NULL);
	if (rc != SQLITE_OK) {
		db_fail(&de, err, rc, dst, "opening the backup file");
		goto out;
	}
	/* one step: a read transaction on the ledger for the whole copy (WAL
	 * lets the server keep writing), so the copy is one consistent state */
	b = sqlite3_backup_init(dst, "main", src, "main");
	if (b == NULL) {
		db_fail(&de, err, sqlite3_errcode(dst), dst, "starting the backup");
		goto out;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		db_fail(e, err, rc, NULL, "copying the ledger");
		goto out;
	}
	rc = sqlite3_exec(dst, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		db_fail(&de, err, rc, dst, "setting up the backup");
		goto out;
	}
	ret = 0;
out:
	sqlite3_close(src);
	sqlite3_close(dst);
	return ret;
}

static int s_integrity(struct lconn *c, struct nrfca_err *err)
{
	sqlite3_stmt *st = NULL;
	const char *res;
	int rc = sqlite3_prepare_v2(c->db, "PRAGMA integrity_check", -1, &st, NULL), ret = -1;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		db_fail(c->e, err, rc, c->db, "checking the database's integrity");
	} else {
		res = (const char *)sqlite3_column_text(st, 0);
		if (res != NULL && strcmp(res, "ok") == 0)
			ret = 0;
		else
			nrfca_err_set(err, NRFCA_E_DB, "database %s fails its integrity check: %s", c->e->path,
			              res ? res : "?");
	}
	sqlite3_finalize(st);
	return ret;
}

static int s_append_only(struct lconn *c, const char *table, struct nrfca_err *err)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
	         "CREATE TRIGGER %s_no_update BEFORE UPDATE ON %s"
	         " BEGIN SELECT RAISE(ABORT, '%s is append-only'); END;"
	         "CREATE TRIGGER %s_no_delete BEFORE DELETE ON %s"
	         " BEGIN SELECT RAISE(ABORT, '%s is append-only'); END;",
	         table, table, table, table, table, table);
	return s_exec(c, sql, "making a table append-only", err);
}

static const char *const s_dialect[LD_MAX] = {
	[LD_BLOB] = "BLOB",
	[LD_INT] = "INTEGER",
	[LD_FOR_UPDATE] = "",
	[LD_ASYNC_COMMIT] = "", /* the writer's batch commits with the others */
	/* SQLite has no statistics unless ANALYZE ran, and without them it walks
	 * the serial index and reads every row to test the filters; the list
	 * indexes hold the filter columns, so only matching rows are read */
	[LD_IDX_LIST] = "INDEXED BY certificates_list",
	[LD_IDX_REVOKED] = "INDEXED BY certificates_revoked",
	[LD_IDX_PROFILE] = "INDEXED BY certificates_profile",
};

const struct ledger_engine ledger_engine_sqlite = {
	.name = "sqlite",
	.concurrent_writers = 0,
	.commit_wait = 0,
	.dialect = s_dialect,
	.open = s_open,
	.close = s_close,
	.where = s_where,
	.describe = s_describe,
	.connect = s_connect,
	.idle = s_idle,
	.checkpoint_stats = s_checkpoint_stats,
	.disconnect = s_disconnect,
	.usable = s_usable,
	.migrated = s_migrated,
	.exec = s_exec,
	.begin = s_begin,
	.query = s_query,
	.next = s_next,
	.is_null = s_is_null,
	.col_int = s_col_int,
	.col_text = s_col_text,
	.col_blob = s_col_blob,
	.changes = s_changes,
	.end = s_end,
	.backup = s_backup,
	.integrity = s_integrity,
	.append_only = s_append_only,
};
