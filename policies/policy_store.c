#include "policy_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nrfca_policy *current;
static struct nrfca_ratelimit *limiter;
static char *current_path;
static unsigned long generation;
static policy_store_check_fn check_fn;

void policy_store_set_check(policy_store_check_fn check)
{
	pthread_mutex_lock(&store_lock);
	check_fn = check;
	pthread_mutex_unlock(&store_lock);
}

static int install(const char *path, struct nrfca_err *err)
{
	struct nrfca_policy *np = NULL, *old;
	struct nrfca_ratelimit *rl;
	policy_store_check_fn check;
	char *p;

	pthread_mutex_lock(&store_lock);
	if (limiter == NULL)
		limiter = nrfca_ratelimit_new();
	rl = nrfca_ratelimit_ref(limiter);
	check = check_fn;
	pthread_mutex_unlock(&store_lock);
	if (rl == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");

	/* the slow part (files, keys, lists) runs outside the lock */
	if (pol_load_file(path, rl, &np, err) != 0) {
		nrfca_ratelimit_unref(rl);
		return -1;
	}
	nrfca_ratelimit_unref(rl);
	if (check != NULL && check(np, err) != 0) {
		nrfca_policy_unref(np);
		return -1;
	}
	p = strdup(path);
	if (p == NULL) {
		nrfca_policy_unref(np);
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	}

	pthread_mutex_lock(&store_lock);
	old = current;
	current = np;
	free(current_path);
	current_path = p;
	generation++;
	pthread_mutex_unlock(&store_lock);

	nrfca_policy_unref(old);  /* freed now or when the last request releases it */
	return 0;
}

int policy_store_load(const char *path, struct nrfca_err *err)
{
	return install(path, err);
}

int policy_store_reload(struct nrfca_err *err)
{
	char *path;
	int rc;

	pthread_mutex_lock(&store_lock);
	path = current_path != NULL ? strdup(current_path) : NULL;
	pthread_mutex_unlock(&store_lock);
	if (path == NULL)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "no policy loaded yet, nothing to reload");
	rc = install(path, err);
	if (rc != 0)
		nrfca_err_prefix(err, "policy reload refused, the previous policy stays in force");
	free(path);
	return rc;
}

struct nrfca_policy *policy_acquire(void)
{
	struct nrfca_policy *p;

	pthread_mutex_lock(&store_lock);
	p = nrfca_policy_ref(current);
	pthread_mutex_unlock(&store_lock);
	return p;
}

void policy_release(struct nrfca_policy *p)
{
	nrfca_policy_unref(p);
}

unsigned long policy_store_generation(void)
{
	unsigned long g;

	pthread_mutex_lock(&store_lock);
	g = generation;
	pthread_mutex_unlock(&store_lock);
	return g;
}

int policy_store_share_rate_limits(nrfca_ratelimit_shared_fn fn, void *ctx, struct nrfca_err *err)
{
	pthread_mutex_lock(&store_lock);
	if (limiter == NULL)
		limiter = nrfca_ratelimit_new();
	if (limiter != NULL)
		nrfca_ratelimit_share(limiter, fn, ctx);
	pthread_mutex_unlock(&store_lock);
	return limiter != NULL ? 0 : nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
}

void policy_store_shutdown(void)
{
	struct nrfca_policy *old;
	struct nrfca_ratelimit *rl;

	pthread_mutex_lock(&store_lock);
	old = current;
	rl = limiter;
	current = NULL;
	limiter = NULL;
	free(current_path);
	current_path = NULL;
	pthread_mutex_unlock(&store_lock);
	nrfca_policy_unref(old);
	nrfca_ratelimit_unref(rl);
}
