#include "policy_status.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "b64url.h"
#include "log.h"
#include "policy.h"
#include "policy_store.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct policy_status st;

/* The SHA-256 of the policy now in force. */
static void in_force(char hex[65])
{
	struct nrfca_policy *p = policy_acquire();

	hex[0] = '\0';
	if (p != NULL) {
		nrfca_hex_encode(nrfca_policy_sha256(p), 32, hex);
		policy_release(p);
	}
}

/* SHA-256 of a file that failed to load ("" when it cannot be read whole
 * within the policy size limit). */
static void file_sha256(const char *path, char hex[65])
{
	unsigned char *buf = malloc(NRFCA_POLICY_FILE_MAX + 1), md[32];
	FILE *f = fopen(path, "rb");
	size_t n = 0;

	hex[0] = '\0';
	if (buf != NULL && f != NULL) {
		n = fread(buf, 1, NRFCA_POLICY_FILE_MAX + 1, f);
		if (!ferror(f) && n <= NRFCA_POLICY_FILE_MAX) {
			SHA256(buf, n, md);
			nrfca_hex_encode(md, 32, hex);
		}
	}
	if (f != NULL)
		fclose(f);
	free(buf);
}

int policy_status_load(const char *path, struct nrfca_err *err)
{
	if (policy_store_load(path, err) != 0)
		return -1;
	pthread_mutex_lock(&mu);
	snprintf(st.path, sizeof(st.path), "%s", path);
	in_force(st.sha256);
	st.loaded_at = (long long)time(NULL);
	pthread_mutex_unlock(&mu);
	return 0;
}

int policy_status_reload(struct ledger *l, const char *actor, long signal_pid,
			 long signal_uid, struct nrfca_err *err)
{
	char sha[65], keep[65], path[sizeof(st.path)];
	json_t *d;
	char *txt;
	int rc;

	pthread_mutex_lock(&mu);
	memcpy(path, st.path, sizeof(path));
	pthread_mutex_unlock(&mu);
	rc = policy_store_reload(err);
	if (rc == 0)
		in_force(sha);
	else
		file_sha256(path, sha);
	in_force(keep);

	pthread_mutex_lock(&mu);
	st.last_attempt = (long long)time(NULL);
	if (rc == 0) {
		memcpy(st.sha256, sha, sizeof(sha));
		st.loaded_at = st.last_attempt;
		st.reloads_ok++;
		st.last_failed = 0;
		st.error[0] = '\0';
		st.failed_sha256[0] = '\0';
	} else {
		st.failures++;
		st.last_failed = 1;
		memcpy(st.failed_sha256, sha, sizeof(sha));
		snprintf(st.error, sizeof(st.error), "%s", err ? err->msg : "unknown error");
	}
	pthread_mutex_unlock(&mu);

	d = json_pack("{s:s, s:s?, s:s, s:s, s:I, s:I}", "file", path, "sha256",
		      sha[0] ? sha : NULL, "result", rc == 0 ? "ok" : "failed", "in_force_sha256",
		      keep, "signal_pid", (json_int_t)signal_pid, "signal_uid",
		      (json_int_t)signal_uid);
	if (d != NULL && rc != 0)
		json_object_set_new(d, "error", json_string(err ? err->msg : "unknown error"));
	txt = d ? json_dumps(d, JSON_COMPACT) : NULL;
	if (txt == NULL || ledger_audit(l, actor, "policy_reload", txt, NULL) != 0)
		nlog(NLOG_ERROR, "audit_failed", "event", "policy_reload", "detail",
		     "the policy reload could not be recorded in the audit log", NULL);
	free(txt);
	json_decref(d);
	return rc;
}

void policy_status_get(struct policy_status *out)
{
	pthread_mutex_lock(&mu);
	*out = st;
	pthread_mutex_unlock(&mu);
}
