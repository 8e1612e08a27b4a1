/* journal.c - station journal: one atomically written JSON file per device + sec_tag. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

int nrfca_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
		       struct nrfca_err *e)
{
	char tmp[PATH_MAX];
	const char *p = data;
	size_t done = 0;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
		return nrfca_err_set(e, NRFCA_E_IO, "path %.100s is too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
	if (fd < 0)
		return nrfca_err_set(e, NRFCA_E_IO, "cannot create %s: %s", tmp, strerror(errno));
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			nrfca_err_set(e, NRFCA_E_IO, "cannot write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		done += (size_t)w;
	}
	if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot sync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		nrfca_err_set(e, NRFCA_E_IO, "cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot rename %s to %s: %s", tmp, path,
			      strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

int nrfca_read_small(const char *path, size_t max, char **out, size_t *len, int *found,
		     struct nrfca_err *e)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd, rc = -1;

	if (found != NULL)
		*found = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT && found != NULL)
			return 0;
		return nrfca_err_set(e, NRFCA_E_IO, "cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		nrfca_err_set(e, NRFCA_E_IO, "%s is not a regular file", path);
		goto out;
	}
	if ((unsigned long long)st.st_size > max) {
		nrfca_err_set(e, NRFCA_E_TOO_LARGE, "%s is %lld bytes, over the limit of %zu",
			      path, (long long)st.st_size, max);
		goto out;
	}
	buf = malloc(max + 1);
	if (buf == NULL) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			nrfca_err_set(e, NRFCA_E_IO, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			nrfca_err_set(e, NRFCA_E_TOO_LARGE, "%s is over the limit of %zu bytes",
				      path, max);
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	if (found != NULL)
		*found = 1;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

int nrfca_journal_default_dir(char *buf, size_t cap, struct nrfca_err *e)
{
	const char *x = getenv("XDG_STATE_HOME"), *h = getenv("HOME");
	int n;

	if (x != NULL && x[0] == '/')
		n = snprintf(buf, cap, "%s/nrfca/journal", x);
	else if (h != NULL && h[0] == '/')
		n = snprintf(buf, cap, "%s/.local/state/nrfca/journal", h);
	else
		return nrfca_err_set(e, NRFCA_E_CONFIG, "no journal directory: HOME is not set; "
				     "give --journal DIR");
	if (n < 0 || (size_t)n >= cap)
		return nrfca_err_set(e, NRFCA_E_CONFIG, "journal directory path is too long");
	return 0;
}

static int entry_path(const char *dir, const char *imei, uint32_t sec_tag, char *buf,
		      size_t cap, struct nrfca_err *e)
{
	size_t i;

	for (i = 0; imei[i]; i++)
		if (imei[i] < '0' || imei[i] > '9')
			break;
	if (i != 15 || imei[i] != '\0')
		return nrfca_err_set(e, NRFCA_E_INPUT, "journal: '%.20s' is not a 15-digit IMEI",
				     imei);
	if ((size_t)snprintf(buf, cap, "%s/%s-%u.json", dir, imei, (unsigned)sec_tag) >= cap)
		return nrfca_err_set(e, NRFCA_E_CONFIG, "journal directory path is too long");
	return 0;
}

int nrfca_mkdir_private(const char *dir, struct nrfca_err *e)
{
	char p[PATH_MAX];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(p))
		return nrfca_err_set(e, NRFCA_E_CONFIG, "bad directory '%.100s'", dir);
	memcpy(p, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			return nrfca_err_set(e, NRFCA_E_IO, "cannot create directory %s: %s", p,
					     strerror(errno));
		if (i < n)
			p[i] = '/';
	}
	return 0;
}

void nrfca_journal_entry_clear(struct nrfca_journal_entry *en)
{
	free(en->keygen);
	memset(en, 0, sizeof(*en));
}

int nrfca_journal_load(const char *dir, const char *imei, uint32_t sec_tag,
		       struct nrfca_journal_entry *out, int *found, struct nrfca_err *e)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	json_t *doc = NULL, *v;
	json_error_t je;
	const char *k, *kg, *rid, *prof, *im;
	long long tag;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	*found = 0;
	if (entry_path(dir, imei, sec_tag, path, sizeof(path), e) != 0)
		return -1;
	if (nrfca_read_small(path, NRFCA_JOURNAL_MAX, &text, &len, found, e) != 0)
		return -1;
	if (!*found)
		return 0;
	*found = 0;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(doc)) {
		nrfca_err_set(e, NRFCA_E_INPUT, "journal entry %s is not JSON (line %d: %.80s); "
			      "remove it to start over", path, je.line, je.text);
		goto out;
	}
	json_object_foreach(doc, k, v) {
		if (strcmp(k, "imei") && strcmp(k, "sec_tag") && strcmp(k, "keygen") &&
		    strcmp(k, "request_id") && strcmp(k, "profile") && strcmp(k, "created")) {
			nrfca_err_set(e, NRFCA_E_INPUT, "journal entry %s has an unknown key "
				      "\"%.40s\"", path, k);
			goto out;
		}
	}
	im = json_string_value(json_object_get(doc, "imei"));
	kg = json_string_value(json_object_get(doc, "keygen"));
	rid = json_string_value(json_object_get(doc, "request_id"));
	prof = json_string_value(json_object_get(doc, "profile"));
	v = json_object_get(doc, "sec_tag");
	tag = json_is_integer(v) ? json_integer_value(v) : -1;
	if (im == NULL || strcmp(im, imei) != 0 || tag != (long long)sec_tag || kg == NULL ||
	    rid == NULL || strlen(rid) == 0 || strlen(rid) > 64 ||
	    (prof != NULL && strlen(prof) > 64)) {
		nrfca_err_set(e, NRFCA_E_INPUT, "journal entry %s does not hold imei %s, "
			      "sec_tag %u, keygen and request_id; remove it to start over",
			      path, imei, (unsigned)sec_tag);
		goto out;
	}
	out->keygen = strdup(kg);
	if (out->keygen == NULL) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	snprintf(out->imei, sizeof(out->imei), "%s", imei);
	out->sec_tag = sec_tag;
	snprintf(out->request_id, sizeof(out->request_id), "%s", rid);
	snprintf(out->profile, sizeof(out->profile), "%s", prof ? prof : "");
	v = json_object_get(doc, "created");
	out->created = json_is_integer(v) ? json_integer_value(v) : 0;
	*found = 1;
	rc = 0;
out:
	json_decref(doc);
	free(text);
	return rc;
}

int nrfca_journal_save(const char *dir, const struct nrfca_journal_entry *en,
		       struct nrfca_err *e)
{
	char path[PATH_MAX], *text = NULL;
	json_t *doc;
	int rc = -1;

	if (entry_path(dir, en->imei, en->sec_tag, path, sizeof(path), e) != 0 ||
	    nrfca_mkdir_private(dir, e) != 0)
		return -1;
	doc = json_pack("{s:s, s:I, s:s, s:s, s:s, s:I}", "imei", en->imei, "sec_tag",
			(json_int_t)en->sec_tag, "keygen", en->keygen, "request_id",
			en->request_id, "profile", en->profile, "created",
			(json_int_t)en->created);
	if (doc != NULL)
		text = json_dumps(doc, JSON_INDENT(2));
	if (text == NULL) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	if (strlen(text) > NRFCA_JOURNAL_MAX) {
		nrfca_err_set(e, NRFCA_E_TOO_LARGE, "journal entry is over %u bytes",
			      NRFCA_JOURNAL_MAX);
		goto out;
	}
	rc = nrfca_write_atomic(path, text, strlen(text), 0600, e);
out:
	free(text);
	json_decref(doc);
	return rc;
}

int nrfca_journal_remove(const char *dir, const char *imei, uint32_t sec_tag,
			 struct nrfca_err *e)
{
	char path[PATH_MAX];

	if (entry_path(dir, imei, sec_tag, path, sizeof(path), e) != 0)
		return -1;
	if (unlink(path) != 0 && errno != ENOENT)
		return nrfca_err_set(e, NRFCA_E_IO, "cannot remove journal entry %s: %s", path,
				     strerror(errno));
	return 0;
}

int nrfca_file_lock(const char *path, int *fd, struct nrfca_err *e)
{
	char lock[PATH_MAX];
	int f;

	if ((size_t)snprintf(lock, sizeof(lock), "%s.lock", path) >= sizeof(lock))
		return nrfca_err_set(e, NRFCA_E_IO, "path %.100s is too long", path);
	f = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (f < 0)
		return nrfca_err_set(e, NRFCA_E_IO, "cannot open the lock file %s: %s", lock,
				     strerror(errno));
	while (flock(f, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		nrfca_err_set(e, NRFCA_E_IO, "cannot lock %s: %s", lock, strerror(errno));
		close(f);
		return -1;
	}
	*fd = f;
	return 0;
}

void nrfca_file_unlock(int fd)
{
	if (fd >= 0)
		close(fd);      /* closing the descriptor releases the flock */
}
