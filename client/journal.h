/*
 * journal.h - the station journal: what a provisioning run must remember
 * to be resumed after a failure.
 *
 * One JSON file per device and sec_tag, <dir>/<IMEI>-<sec_tag>.json, mode
 * 0600, written atomically (temporary file, fsync, rename).  It holds the
 * %KEYGEN output (a CSR and its attestation: not secret), the request id
 * sent to the CA and the profile, so that a retry re-sends the same CSR
 * (the CA replays the certificate it issued) instead of generating a
 * second key.  The entry is removed once the device is provisioned.
 *
 * Files are at most NRFCA_JOURNAL_MAX bytes; unknown or malformed content
 * is refused, never guessed.
 *
 * Ownership: an entry owns its keygen string (nrfca_journal_entry_clear).
 */
#ifndef NRFCA_CLIENT_JOURNAL_H
#define NRFCA_CLIENT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define NRFCA_JOURNAL_MAX 65536u

struct nrfca_journal_entry {
	char imei[16];
	uint32_t sec_tag;
	char *keygen;            /* the %KEYGEN payload */
	char request_id[65];
	char profile[65];        /* "" = server default */
	long long created;       /* unix time */
};

/* Default directory: $XDG_STATE_HOME/nrfca/journal, else
 * ~/.local/state/nrfca/journal.  -1 when neither HOME nor XDG_STATE_HOME. */
int nrfca_journal_default_dir(char *buf, size_t cap, struct nrfca_err *e);

/* Load the entry for imei + sec_tag.  0 with *found = 0 when there is none. */
int nrfca_journal_load(const char *dir, const char *imei, uint32_t sec_tag,
		       struct nrfca_journal_entry *out, int *found, struct nrfca_err *e);
/* Create the directory (0700) when needed and write the entry atomically. */
int nrfca_journal_save(const char *dir, const struct nrfca_journal_entry *en,
		       struct nrfca_err *e);
/* Remove the entry; 0 when it did not exist. */
int nrfca_journal_remove(const char *dir, const char *imei, uint32_t sec_tag,
			 struct nrfca_err *e);
void nrfca_journal_entry_clear(struct nrfca_journal_entry *en);

/* Write data to path atomically with the given mode (tmp + fsync + rename).
 * Shared with the other station files. */
int nrfca_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
		       struct nrfca_err *e);
/* Create dir and its missing parents, each mode 0700 (station state). */
int nrfca_mkdir_private(const char *dir, struct nrfca_err *e);
/* Read a regular file of at most max bytes (NUL-terminated copy).  0 with
 * *found = 0 when it does not exist (found may be NULL: then an error). */
int nrfca_read_small(const char *path, size_t max, char **out, size_t *len, int *found,
		     struct nrfca_err *e);

/* An exclusive lock for read-modify-write of a shared file: flock on
 * "<path>.lock" (created 0644 when missing), waiting for other holders (in
 * this process or another).  *fd is released by nrfca_file_unlock. */
int nrfca_file_lock(const char *path, int *fd, struct nrfca_err *e);
void nrfca_file_unlock(int fd);

#endif
