/*
 * Unit tests of the credentials of schema 2: expiry, enable, rotate,
 * client-certificate binding and lookup, last use, groups, the list
 * structure, and how fast a change made elsewhere takes effect.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger_test.h"

static void test_cred_expiry_enable_rotate(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("cred2.db", NULL);
	struct ledger_cred_opts past = { .expires_at = time(NULL) - 10 };
	struct ledger_cred_opts future = { .expires_at = time(NULL) + 3600 };
	struct ledger_cred_info info;
	unsigned char h1[32], h2[32], h3[32], h4[32];
	char name[LEDGER_CRED_NAME_MAX + 1];
	enum cred_role role;
	int disabled = -1;

	(void)state;
	sha("s1", 2, h1);
	sha("s2", 2, h2);
	sha("s3", 2, h3);
	sha("s4", 2, h4);
	assert_int_equal(ledger_cred_add_opts(l, "old", ROLE_STATION, h1, &past, "admin", &err), 0);
	assert_int_equal(ledger_cred_add_opts(l, "new", ROLE_OPERATOR, h2, &future, "admin", &err), 0);
	/* expired: found, but refusable */
	assert_int_equal(ledger_cred_lookup(l, h1, name, &role, &disabled, &err), 0);
	assert_int_equal(disabled, 2);
	assert_int_equal(ledger_cred_lookup(l, h2, name, &role, &disabled, &err), 0);
	assert_int_equal(disabled, 0);
	assert_int_equal(ledger_cred_get(l, "new", &info, &err), 0);
	assert_int_equal(info.expires_at, future.expires_at);
	assert_int_equal(info.expired, 0);
	/* extend, and the lookup answers at once (the cache was dropped) */
	assert_int_equal(ledger_cred_set_expiry(l, "old", 0, "admin", &err), 0);
	assert_int_equal(ledger_cred_lookup(l, h1, name, &role, &disabled, &err), 0);
	assert_int_equal(disabled, 0);

	/* enable after disable; enabling an enabled one is a conflict */
	assert_int_equal(ledger_cred_enable(l, "old", "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_CONFLICT);
	assert_int_equal(ledger_cred_disable(l, "old", "admin", &err), 0);
	assert_int_equal(ledger_cred_lookup(l, h1, name, &role, &disabled, &err), 0);
	assert_int_equal(disabled, 1);
	assert_int_equal(ledger_cred_enable(l, "old", "admin", &err), 0);
	assert_int_equal(ledger_cred_lookup(l, h1, name, &role, &disabled, &err), 0);
	assert_int_equal(disabled, 0);
	assert_int_equal(ledger_cred_enable(l, "nobody", "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_NOTFOUND);

	/* rotate: the old secret stops working, the new one has the same name and role */
	assert_int_equal(ledger_cred_rotate(l, "old", h3, "admin", &err), 0);
	assert_int_equal(ledger_cred_lookup(l, h1, name, &role, &disabled, &err), 1);
	assert_int_equal(ledger_cred_lookup(l, h3, name, &role, &disabled, &err), 0);
	assert_string_equal(name, "old");
	assert_int_equal(role, ROLE_STATION);
	assert_int_equal(ledger_cred_rotate(l, "old", h2, "admin", &err), -1); /* taken by "new" */
	assert_int_equal(err.code, NRFCA_E_EXISTS);
	assert_int_equal(ledger_cred_rotate(l, "nobody", h4, "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_NOTFOUND);
	/* 2 adds, expiry, disable, enable, rotate */
	assert_int_equal(verify_ok(l), 6);
	ledger_close(l);
	db_remove("cred2.db");
}

static void test_cred_cert_binding(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("bind.db", NULL);
	struct ledger_cred_info info;
	static const char *const groups[] = { "line-2", "factory-b" };
	unsigned char h1[32], h2[32], fp1[32], fp2[32];

	(void)state;
	sha("a", 1, h1);
	sha("b", 1, h2);
	sha("cert-1", 6, fp1);
	sha("cert-2", 6, fp2);
	assert_int_equal(ledger_cred_add(l, "station-c", ROLE_STATION, h1, "admin", &err), 0);
	assert_int_equal(ledger_cred_add(l, "station-d", ROLE_STATION, h2, "admin", &err), 0);
	assert_int_equal(ledger_cred_set_groups(l, "station-c", groups, 2, "admin", &err), 0);
	assert_int_equal(ledger_cred_lookup_cert(l, fp1, "CN=station-c,O=Factory", &info, &err), 1);
	assert_int_equal(ledger_cred_bind_cert(l, "station-c", fp1, NULL, "admin", &err), 0);
	assert_int_equal(ledger_cred_bind_cert(l, "station-d", NULL, "CN=station-d,O=Factory", "admin", &err), 0);

	assert_int_equal(ledger_cred_lookup_cert(l, fp1, "CN=whatever", &info, &err), 0);
	assert_string_equal(info.name, "station-c");
	assert_int_equal(info.role, ROLE_STATION);
	assert_int_equal(info.has_cert_sha256, 1);
	assert_memory_equal(info.cert_sha256, fp1, 32);
	assert_int_equal(info.n_groups, 2);
	assert_string_equal(info.groups[0], "factory-b");
	assert_string_equal(info.groups[1], "line-2");
	/* by subject when the fingerprint is not bound */
	assert_int_equal(ledger_cred_lookup_cert(l, fp2, "CN=station-d,O=Factory", &info, &err), 0);
	assert_string_equal(info.name, "station-d");
	assert_int_equal(ledger_cred_lookup_cert(l, NULL, "CN=station-d,O=Factory", &info, &err), 0);
	assert_string_equal(info.name, "station-d");
	/* one certificate, one credential */
	assert_int_equal(ledger_cred_bind_cert(l, "station-d", fp1, NULL, "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_EXISTS);
	assert_int_equal(ledger_cred_bind_cert(l, "station-c", NULL, "CN=station-d,O=Factory", "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_EXISTS);
	assert_int_equal(ledger_cred_bind_cert(l, "station-c", NULL, NULL, "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	/* a disabled credential's certificate is refusable */
	assert_int_equal(ledger_cred_disable(l, "station-c", "admin", &err), 0);
	assert_int_equal(ledger_cred_lookup_cert(l, fp1, NULL, &info, &err), 0);
	assert_int_equal(info.disabled, 1);
	/* unbind */
	assert_int_equal(ledger_cred_unbind_cert(l, "station-c", "admin", &err), 0);
	assert_int_equal(ledger_cred_lookup_cert(l, fp1, NULL, &info, &err), 1);
	assert_int_equal(ledger_cred_unbind_cert(l, "station-c", "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_CONFLICT);
	assert_int_equal(ledger_cred_unbind_cert(l, "nobody", "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_NOTFOUND);
	ledger_close(l);
	db_remove("bind.db");
}

struct each_seen {
	int n;
	struct ledger_cred_info c[4];
};

static int each_cb(const struct ledger_cred_info *c, void *arg)
{
	struct each_seen *s = arg;

	assert_true(s->n < 4);
	s->c[s->n++] = *c;
	return 0;
}

static void test_cred_groups_touch_each(void **state)
{
	static const char *const g1[] = { "line-1", "factory-a" };
	static const char *const g2[] = { "line-1" };
	static const char *const dup[] = { "x", "x" };
	static const char *const bad[] = { "no spaces" };
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("groups.db", NULL);
	struct each_seen seen = { 0 };
	unsigned char h[3][32];
	int shared = -1;
	struct raw *db;

	(void)state;
	sha("1", 1, h[0]);
	sha("2", 1, h[1]);
	sha("3", 1, h[2]);
	assert_int_equal(ledger_cred_add(l, "s-a", ROLE_STATION, h[0], "admin", &err), 0);
	assert_int_equal(ledger_cred_add(l, "s-b", ROLE_STATION, h[1], "admin", &err), 0);
	assert_int_equal(ledger_cred_add(l, "s-c", ROLE_STATION, h[2], "admin", &err), 0);
	assert_int_equal(ledger_cred_set_groups(l, "s-a", g1, 2, "admin", &err), 0);
	assert_int_equal(ledger_cred_set_groups(l, "s-b", g2, 1, "admin", &err), 0);
	assert_int_equal(ledger_cred_set_groups(l, "s-c", dup, 2, "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_int_equal(ledger_cred_set_groups(l, "s-c", bad, 1, "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_int_equal(ledger_cred_set_groups(l, "nobody", g2, 1, "admin", &err), -1);
	assert_int_equal(err.code, NRFCA_E_NOTFOUND);
	assert_int_equal(ledger_cred_share_group(l, "s-a", "s-b", &shared, &err), 0);
	assert_int_equal(shared, 1);
	assert_int_equal(ledger_cred_share_group(l, "s-a", "s-c", &shared, &err), 0);
	assert_int_equal(shared, 0);

	/* last use: written once, not on every request */
	assert_int_equal(ledger_cred_touch(l, "s-b", &err), 0);
	db = raw_open("groups.db");
	assert_true(raw_int(db, "SELECT last_used_at FROM credentials WHERE name = 's-b'") >= time(NULL) - 5);
	assert_int_equal(raw_exec(db, "UPDATE credentials SET last_used_at = 1000 WHERE name = 's-b'"), 0);
	assert_int_equal(ledger_cred_touch(l, "s-b", &err), 0);
	assert_int_equal(raw_int(db, "SELECT last_used_at FROM credentials WHERE name = 's-b'"), 1000);
	raw_close(db);

	assert_int_equal(ledger_cred_each(l, each_cb, &seen, &err), 0);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.c[0].name, "s-a");
	assert_int_equal(seen.c[0].n_groups, 2);
	assert_string_equal(seen.c[0].groups[0], "factory-a");
	assert_string_equal(seen.c[1].name, "s-b");
	assert_int_equal(seen.c[1].n_groups, 1);
	assert_int_equal(seen.c[1].last_used, 1000);
	assert_int_equal(seen.c[2].n_groups, 0);
	assert_int_equal(seen.c[2].last_used, 0);
	assert_true(seen.c[2].created > 1700000000);
	/* clearing */
	assert_int_equal(ledger_cred_set_groups(l, "s-a", NULL, 0, "admin", &err), 0);
	assert_int_equal(ledger_cred_share_group(l, "s-a", "s-b", &shared, &err), 0);
	assert_int_equal(shared, 0);
	/* 3 adds, 3 group changes (the refused ones left nothing) */
	assert_int_equal(verify_ok(l), 6);
	ledger_close(l);
	db_remove("groups.db");
}

/* A credential disabled through another handle (nrfca-admin, another
 * instance) is refused within the cache's life, at most 2 s. */
static void test_cred_disable_elsewhere(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *server = open_fresh("else.db", NULL), *admin;
	char name[LEDGER_CRED_NAME_MAX + 1];
	unsigned char h[32];
	enum cred_role role;
	int disabled = -1, i;

	(void)state;
	admin = open_again("else.db", NULL);
	sha("tok", 3, h);
	assert_int_equal(ledger_cred_add(admin, "st", ROLE_STATION, h, "admin", &err), 0);
	assert_int_equal(ledger_cred_lookup(server, h, name, &role, &disabled, &err), 0);
	assert_int_equal(disabled, 0); /* now cached in the server */
	assert_int_equal(ledger_cred_disable(admin, "st", "admin", &err), 0);
	for (i = 0; i < 60 && disabled == 0; i++) {
		usleep(100 * 1000);
		assert_int_equal(ledger_cred_lookup(server, h, name, &role, &disabled, &err), 0);
	}
	/* 3 s of slack over the 2 s cache life, for a loaded machine */
	assert_true(i <= 50);
	assert_int_equal(disabled, 1);
	ledger_close(admin);
	ledger_close(server);
	db_remove("else.db");
}

const struct CMUnitTest ledger_creds_tests[] = {
	cmocka_unit_test(test_cred_expiry_enable_rotate),
	cmocka_unit_test(test_cred_cert_binding),
	cmocka_unit_test(test_cred_groups_touch_each),
	cmocka_unit_test(test_cred_disable_elsewhere),
};
const size_t ledger_creds_n = sizeof(ledger_creds_tests) / sizeof(ledger_creds_tests[0]);
