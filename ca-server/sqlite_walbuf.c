/*
 * sqlite_walbuf.c - a SQLite VFS that gathers the writes of a commit to the
 * write-ahead log into one write(2) (see sqlite_walbuf.h).
 *
 * Why: SQLite writes every WAL frame with two pwrite(2) calls (the 24-byte
 * frame header, then the page).  An enrollment dirties about ten pages, so a
 * group commit of a few enrollments costs ~100 system calls before its
 * fdatasync(2), all on the ledger's one writer thread, which every request
 * waits for.  On a virtual machine where a system call is expensive this was
 * most of the commit's time.  Here consecutive writes to the -wal file are
 * copied into a buffer and written with one pwrite(2) per 128 KiB:
 *
 *   - before the file is synced (xSync): a commit is on disk exactly as
 *     without the buffer, since synchronous=FULL syncs the WAL at every
 *     commit, before the commit is published in the WAL index;
 *   - before anything reads, truncates, measures, controls or closes the
 *     file, and when a write does not follow the buffered bytes or would
 *     overflow the buffer.
 *
 * So no reader (in this process or another) can see a frame the index names
 * that is not yet in the file, and a crash before xSync loses only what an
 * unsynced write would lose anyway: the transaction was not committed.
 *
 * Only the ledger's own connections use this VFS, and they always run with
 * synchronous=FULL (ledger_sqlite.c); with synchronous=NORMAL the WAL is not
 * synced at commit and this buffer would hold a published frame, so the VFS
 * must not be used with a weaker setting.  Every other file (the database,
 * its -shm index, journals) is opened straight by the default VFS.
 */
#include "sqlite_walbuf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The default VFS writes at most 0x1ffff bytes per call (its seekAndWrite
 * masks the length), so that is the most one write can carry: 31 frames of
 * 4 KiB pages. */
#define WALBUF_CAP 0x1ffff

struct walfile {
	sqlite3_file base;      /* pMethods = &wal_methods */
	sqlite3_file *real;     /* the default VFS's file, just after this struct */
	unsigned char *buf;     /* WALBUF_CAP bytes, allocated at the first write */
	sqlite3_int64 off;      /* file offset of buf[0] */
	int len;                /* bytes held */
};

static sqlite3_vfs *base_vfs;
static sqlite3_vfs walbuf_vfs;
static int init_rc = SQLITE_ERROR;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int flush(struct walfile *w)
{
	int rc, len = w->len;

	if (len == 0)
		return SQLITE_OK;
	w->len = 0;   /* a failed write is not tried again: SQLite rolls back */
	rc = w->real->pMethods->xWrite(w->real, w->buf, len, w->off);
	return rc;
}

static int w_close(sqlite3_file *f)
{
	struct walfile *w = (struct walfile *)f;
	int rc = flush(w), rc2;

	rc2 = w->real->pMethods->xClose(w->real);
	free(w->buf);
	w->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int w_read(sqlite3_file *f, void *out, int amt, sqlite3_int64 off)
{
	struct walfile *w = (struct walfile *)f;
	int rc = flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xRead(w->real, out, amt, off);
}

static int w_write(sqlite3_file *f, const void *in, int amt, sqlite3_int64 off)
{
	struct walfile *w = (struct walfile *)f;
	int rc;

	if (w->buf == NULL && (w->buf = malloc(WALBUF_CAP)) == NULL)
		return w->real->pMethods->xWrite(w->real, in, amt, off);
	if (w->len > 0 && (off != w->off + w->len || amt > WALBUF_CAP - w->len)) {
		rc = flush(w);
		if (rc != SQLITE_OK)
			return rc;
	}
	if (amt > WALBUF_CAP)
		return w->real->pMethods->xWrite(w->real, in, amt, off);
	if (w->len == 0)
		w->off = off;
	memcpy(w->buf + w->len, in, (size_t)amt);
	w->len += amt;
	return SQLITE_OK;
}

static int w_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct walfile *w = (struct walfile *)f;
	int rc = flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xTruncate(w->real, size);
}

static int w_sync(sqlite3_file *f, int flags)
{
	struct walfile *w = (struct walfile *)f;
	int rc = flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xSync(w->real, flags);
}

static int w_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct walfile *w = (struct walfile *)f;
	int rc = flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xFileSize(w->real, size);
}

static int w_lock(sqlite3_file *f, int level)
{
	struct walfile *w = (struct walfile *)f;

	return w->real->pMethods->xLock(w->real, level);
}

static int w_unlock(sqlite3_file *f, int level)
{
	struct walfile *w = (struct walfile *)f;
	int rc = flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xUnlock(w->real, level);
}

static int w_reserved(sqlite3_file *f, int *out)
{
	struct walfile *w = (struct walfile *)f;

	return w->real->pMethods->xCheckReservedLock(w->real, out);
}

static int w_control(sqlite3_file *f, int op, void *arg)
{
	struct walfile *w = (struct walfile *)f;
	int rc = flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xFileControl(w->real, op, arg);
}

static int w_sector(sqlite3_file *f)
{
	struct walfile *w = (struct walfile *)f;

	return w->real->pMethods->xSectorSize(w->real);
}

static int w_device(sqlite3_file *f)
{
	struct walfile *w = (struct walfile *)f;

	return w->real->pMethods->xDeviceCharacteristics(w->real);
}

/* Version 1: SQLite maps no shared memory and fetches no pages from a WAL
 * file (both are done through the database file). */
static const sqlite3_io_methods wal_methods = {
	1, w_close, w_read, w_write, w_truncate, w_sync, w_size, w_lock, w_unlock, w_reserved,
	w_control, w_sector, w_device, NULL, NULL, NULL, NULL, NULL, NULL,
};

static int v_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *out_flags)
{
	struct walfile *w = (struct walfile *)f;
	int rc;

	(void)vfs;
	if (!(flags & SQLITE_OPEN_WAL))
		return base_vfs->xOpen(base_vfs, name, f, flags, out_flags);
	memset(w, 0, sizeof(*w));
	w->real = (sqlite3_file *)(w + 1);
	rc = base_vfs->xOpen(base_vfs, name, w->real, flags, out_flags);
	if (rc == SQLITE_OK)
		w->base.pMethods = &wal_methods;
	return rc;
}

static int v_delete(sqlite3_vfs *v, const char *name, int sync)
{
	(void)v;
	return base_vfs->xDelete(base_vfs, name, sync);
}

static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return base_vfs->xAccess(base_vfs, name, flags, out);
}

static int v_fullpath(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return base_vfs->xFullPathname(base_vfs, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return base_vfs->xDlOpen(base_vfs, name);
}

static void v_dlerror(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	base_vfs->xDlError(base_vfs, n, out);
}

static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	(void)v;
	return base_vfs->xDlSym(base_vfs, h, sym);
}

static void v_dlclose(sqlite3_vfs *v, void *h)
{
	(void)v;
	base_vfs->xDlClose(base_vfs, h);
}

static int v_random(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return base_vfs->xRandomness(base_vfs, n, out);
}

static int v_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return base_vfs->xSleep(base_vfs, us);
}

static int v_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return base_vfs->xCurrentTime(base_vfs, out);
}

static int v_lasterr(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return base_vfs->xGetLastError ? base_vfs->xGetLastError(base_vfs, n, out) : 0;
}

static int v_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

static void init(void)
{
	int sz;

	base_vfs = sqlite3_vfs_find(NULL);
	if (base_vfs == NULL || base_vfs->iVersion < 2 || base_vfs->xCurrentTimeInt64 == NULL)
		return;
	sz = (int)sizeof(struct walfile) + base_vfs->szOsFile;
	if (sz < base_vfs->szOsFile)
		return;
	walbuf_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = sz,
		.mxPathname = base_vfs->mxPathname,
		.zName = NRFCA_WALBUF_VFS,
		.xOpen = v_open,
		.xDelete = v_delete,
		.xAccess = v_access,
		.xFullPathname = v_fullpath,
		.xDlOpen = v_dlopen,
		.xDlError = v_dlerror,
		.xDlSym = v_dlsym,
		.xDlClose = v_dlclose,
		.xRandomness = v_random,
		.xSleep = v_sleep,
		.xCurrentTime = v_time,
		.xGetLastError = v_lasterr,
		.xCurrentTimeInt64 = v_time64,
	};
	init_rc = sqlite3_vfs_register(&walbuf_vfs, 0);
}

const char *nrfca_walbuf_vfs(void)
{
	pthread_once(&once, init);
	return init_rc == SQLITE_OK ? NRFCA_WALBUF_VFS : NULL;
}
