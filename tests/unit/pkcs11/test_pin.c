/* Unit tests of the PIN sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "p11pin.h"

static char dir[1024];

static const char *write_pin(const char *name, const char *content, size_t len, mode_t mode)
{
	static char path[2048];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(content, 1, len, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static void file_source(void **state)
{
	struct p11pin pin;
	struct nrfca_err e = { 0 };
	char src[2100];

	(void)state;
	snprintf(src, sizeof(src), "file:%s", write_pin("p1", "123456\n", 7, 0600));
	assert_int_equal(p11pin_read(src, NULL, NULL, 0, &pin, &e), 0);
	assert_int_equal(pin.len, 6);
	assert_string_equal(pin.buf, "123456");
	p11pin_wipe(&pin);
	assert_int_equal(pin.len, 0);
	assert_int_equal(pin.buf[0], 0);
	/* CRLF, and a bare absolute path */
	assert_int_equal(p11pin_read(write_pin("p2", "abc\r\n", 5, 0400), NULL, NULL, 0, &pin, &e), 0);
	assert_string_equal(pin.buf, "abc");
	p11pin_wipe(&pin);
}

static void file_refusals(void **state)
{
	struct p11pin pin;
	struct nrfca_err e = { 0 };
	char big[400];

	(void)state;
	/* readable by others: refused unless allowed */
	assert_int_equal(p11pin_read(write_pin("p3", "1234\n", 5, 0644), NULL, NULL, 0, &pin, &e), -1);
	assert_non_null(strstr(e.msg, "accessible by group or others"));
	assert_int_equal(p11pin_read(write_pin("p3", "1234\n", 5, 0644), NULL, NULL, 1, &pin, &e), 0);
	p11pin_wipe(&pin);
	/* missing */
	assert_int_equal(p11pin_read("file:/nonexistent/pin", NULL, NULL, 0, &pin, &e), -1);
	assert_int_equal(e.code, NRFCA_E_NOTFOUND);
	assert_non_null(strstr(e.msg, "/nonexistent/pin"));
	/* empty, two lines, too large, relative */
	assert_int_equal(p11pin_read(write_pin("p4", "\n", 1, 0600), NULL, NULL, 0, &pin, &e), -1);
	assert_non_null(strstr(e.msg, "empty"));
	assert_int_equal(p11pin_read(write_pin("p5", "12\n34\n", 6, 0600), NULL, NULL, 0, &pin, &e), -1);
	assert_non_null(strstr(e.msg, "more than one line"));
	memset(big, '7', sizeof(big));
	assert_int_equal(p11pin_read(write_pin("p6", big, sizeof(big), 0600), NULL, NULL, 0, &pin, &e), -1);
	assert_non_null(strstr(e.msg, "larger than"));
	assert_int_equal(p11pin_read("file:relative/pin", NULL, NULL, 0, &pin, &e), -1);
	assert_non_null(strstr(e.msg, "absolute"));
	/* relative to the configuration's folder (pin-source=file:pin) */
	write_pin("rel", "4321\n", 5, 0600);
	assert_int_equal(p11pin_read("file:rel", dir, NULL, 0, &pin, &e), 0);
	assert_string_equal(pin.buf, "4321");
	p11pin_wipe(&pin);
	assert_int_equal(p11pin_read("rel", dir, NULL, 0, &pin, &e), 0);
	p11pin_wipe(&pin);
	assert_int_equal(p11pin_read("file:missing", dir, NULL, 0, &pin, &e), -1);
	assert_non_null(strstr(e.msg, dir));
	/* a directory */
	assert_int_equal(p11pin_read(dir, NULL, NULL, 0, &pin, &e), -1);
	assert_non_null(strstr(e.msg, "not a regular file"));
}

static void env_source(void **state)
{
	struct p11pin pin;
	struct nrfca_err e = { 0 };

	(void)state;
	setenv("NRFCA_UNIT_PIN", "654321", 1);
	assert_int_equal(p11pin_read(NULL, NULL, "NRFCA_UNIT_PIN", 0, &pin, &e), 0);
	assert_string_equal(pin.buf, "654321");
	p11pin_wipe(&pin);
	unsetenv("NRFCA_UNIT_PIN");
	assert_int_equal(p11pin_read(NULL, NULL, "NRFCA_UNIT_PIN", 0, &pin, &e), -1);
	assert_non_null(strstr(e.msg, "NRFCA_UNIT_PIN is not set"));
	assert_int_equal(p11pin_read(NULL, NULL, NULL, 0, &pin, &e), -1);
	assert_non_null(strstr(e.msg, "no PIN source"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(file_source),
		cmocka_unit_test(file_refusals),
		cmocka_unit_test(env_source),
	};
	const char *t = getenv("NRFCA_TEST_TMP");

	snprintf(dir, sizeof(dir), "%s/pin-test.%d", t ? t : ".", (int)getpid());
	mkdir(dir, 0700);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
