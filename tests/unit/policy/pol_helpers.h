/* Helpers shared by the policy tests: a private scratch directory under the
 * test's working directory (the build tree), files in it, policy text. */
#ifndef POL_HELPERS_H
#define POL_HELPERS_H

#include <stddef.h>

/* Create ./policy-test.XXXXXX; returns its path (static storage). */
const char *scratch_new(void);
/* Remove the scratch directory and everything in it. */
void scratch_free(void);
/* cmocka group setup / teardown: scratch_new() / scratch_free(). */
int scratch_group_setup(void **state);
int scratch_group_teardown(void **state);
/* Write text to <scratch>/<name> (sub-directories are created); returns the full path. */
const char *scratch_write(const char *name, const char *text);
/* <NRFCA_POLICY_DIR>/<rel>, the shipped policies folder. */
const char *policy_dir_file(const char *rel);

/*
 * A one-profile policy ("p", the default) built from default fields with
 * overrides: pairs of (key, JSON value) ended by NULL; a NULL value removes
 * the key, an unknown key is appended.  The result is malloc'd.
 */
char *profile_policy(const char *const *overrides);

#endif
