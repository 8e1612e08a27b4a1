/*
 * sqlite_walbuf.h - a SQLite VFS for the ledger's own connections: the
 * default VFS, except that consecutive writes to a -wal file are gathered
 * and written with one system call before the file is synced or read.
 * Only for connections that run with synchronous=FULL (sqlite_walbuf.c).
 */
#ifndef NRFCA_SQLITE_WALBUF_H
#define NRFCA_SQLITE_WALBUF_H

#include <sqlite3.h>

#define NRFCA_WALBUF_VFS "nrfca-walbuf"

/* Registers the VFS once (not as the default); its name, or NULL when the
 * default VFS cannot be wrapped (then open with the default). */
const char *nrfca_walbuf_vfs(void);

#endif
