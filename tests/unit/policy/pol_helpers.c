#define _XOPEN_SOURCE 700
#include "pol_helpers.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[PATH_MAX];

const char *scratch_new(void)
{
	char tmpl[] = "policy-test.XXXXXX";

	if (mkdtemp(tmpl) == NULL || realpath(tmpl, scratch) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return scratch;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void scratch_free(void)
{
	if (scratch[0] != '\0')
		nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	scratch[0] = '\0';
}

int scratch_group_setup(void **state)
{
	(void)state;
	scratch_new();
	return 0;
}

int scratch_group_teardown(void **state)
{
	(void)state;
	scratch_free();
	return 0;
}

const char *scratch_write(const char *name, const char *text)
{
	static char path[PATH_MAX];
	char *slash;
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", scratch, name) >= sizeof(path))
		abort();
	for (slash = strchr(path + strlen(scratch) + 1, '/'); slash != NULL;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		abort();
	}
	return path;
}

const char *policy_dir_file(const char *rel)
{
	static char path[PATH_MAX];
	const char *d = getenv("NRFCA_POLICY_DIR");

	snprintf(path, sizeof(path), "%s/%s", d != NULL ? d : "../../../policies", rel);
	return path;
}

char *profile_policy(const char *const *ov)
{
	static const char *const defaults[][2] = {
		{ "input", "\"keygen\"" },
		{ "cn", "{\"source\": \"attested_uuid\"}" },
		{ "attestation", "{\"required\": true}" },
		{ "on_existing", "\"supersede\"" },
		{ "validity", "{\"default_days\": 365, \"max_days\": 730}" },
		{ "trust_bundle", NULL },  /* filled below */
	};
	char trust[PATH_MAX + 8];
	size_t cap = 65536, n = 0, i, j;
	char *out = malloc(cap);
	int first = 1;

	snprintf(trust, sizeof(trust), "[\"%s\"]", policy_dir_file("trust/aws-root-ca1.pem"));
	n += (size_t)snprintf(out + n, cap - n,
			      "{\"version\": 1, \"default_profile\": \"p\", \"profiles\": {\"p\": {");
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		const char *v = defaults[i][1] != NULL ? defaults[i][1] : trust;

		for (j = 0; ov != NULL && ov[j] != NULL; j += 2)
			if (strcmp(ov[j], defaults[i][0]) == 0)
				v = ov[j + 1];
		if (v == NULL)
			continue;
		n += (size_t)snprintf(out + n, cap - n, "%s\"%s\": %s", first ? "" : ", ",
				      defaults[i][0], v);
		first = 0;
	}
	for (j = 0; ov != NULL && ov[j] != NULL; j += 2) {
		for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
			if (strcmp(ov[j], defaults[i][0]) == 0)
				break;
		if (i < sizeof(defaults) / sizeof(defaults[0]) || ov[j + 1] == NULL)
			continue;
		n += (size_t)snprintf(out + n, cap - n, "%s\"%s\": %s", first ? "" : ", ", ov[j],
				      ov[j + 1]);
		first = 0;
	}
	snprintf(out + n, cap - n, "}}}");
	return out;
}
