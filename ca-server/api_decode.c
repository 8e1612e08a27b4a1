#define _GNU_SOURCE
#include "api_decode.h"

#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const codes[API_STATUS_MAX] = {
	[API_OK] = "ok",
	[API_EMPTY_BODY] = "empty_body",
	[API_INVALID_JSON] = "invalid_json",
	[API_INVALID_REQUEST] = "invalid_request",
};

const char *api_status_code(enum api_status s)
{
	return (unsigned)s < API_STATUS_MAX ? codes[s] : "invalid_request";
}

static int depth_ok(const json_t *j, int depth, int max)
{
	const char *k;
	json_t *v;
	size_t i;

	if (depth > max)
		return 0;
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v)
			if (!depth_ok(v, depth + 1, max))
				return 0;
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			if (!depth_ok(v, depth + 1, max))
				return 0;
	}
	return 1;
}

enum api_status api_parse_object(const char *body, size_t len, int max_depth, json_t **out,
				 char *why, size_t whylen)
{
	json_error_t je;
	json_t *j;

	if (body == NULL || len == 0) {
		snprintf(why, whylen, "the request body is empty");
		return API_EMPTY_BODY;
	}
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		snprintf(why, whylen, "the body is not valid JSON: %s at position %d", je.text,
			 je.position);
		return API_INVALID_JSON;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(why, whylen, "the body must be a JSON object");
		return API_INVALID_REQUEST;
	}
	if (!depth_ok(j, 1, max_depth)) {
		json_decref(j);
		snprintf(why, whylen, "the JSON body nests deeper than %d levels", max_depth);
		return API_INVALID_JSON;
	}
	*out = j;
	return API_OK;
}

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

enum api_status api_decode_enroll(json_t *j, struct enroll_req *er, char *why, size_t whylen)
{
	const char *k;
	json_t *v;

	memset(er, 0, sizeof(*er));
	json_object_foreach(j, k, v) {
		if (strcmp(k, "keygen") == 0 || strcmp(k, "csr") == 0) {
			if (!json_is_string(v)) {
				snprintf(why, whylen, "\"%s\" must be a string", k);
				return API_INVALID_REQUEST;
			}
			if (k[0] == 'k') {
				er->keygen = json_string_value(v);
				er->keygen_len = json_string_length(v);
			} else {
				er->csr_pem = json_string_value(v);
				er->csr_len = json_string_length(v);
			}
		} else if (strcmp(k, "profile") == 0 || strcmp(k, "request_id") == 0 ||
			   strcmp(k, "imei") == 0) {
			const char *s = json_string_value(v);

			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) > 64 || strlen(s) != json_string_length(v) ||
			    !printable(s)) {
				snprintf(why, whylen,
					 "\"%s\" must be a string of 1 to 64 printable characters", k);
				return API_INVALID_REQUEST;
			}
			if (k[0] == 'p') {
				er->profile = s;
			} else if (k[0] == 'r') {
				er->request_id = s;
			} else {
				size_t i;

				for (i = 0; s[i] >= '0' && s[i] <= '9'; i++)
					;
				if (i != 15 || s[i] != '\0') {
					snprintf(why, whylen, "\"imei\" must be the 15 digits AT+CGSN answers");
					return API_INVALID_REQUEST;
				}
				er->imei = s;
			}
		} else if (strcmp(k, "slot") == 0) {
			const char *s = json_string_value(v);
			size_t i;

			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) > 64 || strlen(s) != json_string_length(v)) {
				snprintf(why, whylen, "\"slot\" must be a string of 1 to 64 characters");
				return API_INVALID_REQUEST;
			}
			for (i = 0; s[i]; i++)
				if (!isalnum((unsigned char)s[i]) && strchr("._-:+@", s[i]) == NULL) {
					snprintf(why, whylen, "\"slot\" may hold only letters, digits and "
						 ". _ - : + @ (a fixture slot or port name)");
					return API_INVALID_REQUEST;
				}
			er->slot = s;
		} else if (strcmp(k, "validity_days") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 36500) {
				snprintf(why, whylen, "\"validity_days\" must be an integer from 1 to 36500");
				return API_INVALID_REQUEST;
			}
			er->validity_days = (int)json_integer_value(v);
		} else {
			snprintf(why, whylen,
				 "unknown field \"%.40s\" (expected keygen or csr, profile, request_id, "
				 "imei, slot, validity_days)", k);
			return API_INVALID_REQUEST;
		}
	}
	if ((er->keygen == NULL) == (er->csr_pem == NULL)) {
		snprintf(why, whylen, "send exactly one of \"keygen\" (%%KEYGEN output) and \"csr\" (PEM)");
		return API_INVALID_REQUEST;
	}
	return API_OK;
}

enum api_status api_decode_revoke(json_t *j, const char **reason, char *why, size_t whylen)
{
	const char *k;
	json_t *v;

	*reason = NULL;
	json_object_foreach(j, k, v) {
		if (strcmp(k, "reason") != 0) {
			snprintf(why, whylen, "unknown field \"%.40s\" (expected reason)", k);
			return API_INVALID_REQUEST;
		}
		if (!json_is_string(v) || json_string_length(v) > 64) {
			snprintf(why, whylen, "\"reason\" must be an RFC 5280 reason name");
			return API_INVALID_REQUEST;
		}
		*reason = json_string_value(v);
	}
	return API_OK;
}

/* ---- query values ---- */

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

enum api_status api_serial(const char *in, char out[LEDGER_SERIAL_MAX + 1], char *why,
			   size_t whylen)
{
	char buf[LEDGER_SERIAL_MAX + 2];
	size_t i, n = 0, start = 0;

	for (i = 0; in[i] != '\0'; i++) {
		char c = in[i];

		if (c == ':' && i > 0 && is_hex(in[i - 1]) && is_hex(in[i + 1]))
			continue;
		if (!is_hex(c) || n > LEDGER_SERIAL_MAX)
			goto bad;
		buf[n++] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
	}
	if (n == 0 || n > LEDGER_SERIAL_MAX)
		goto bad;
	while (start + 1 < n && buf[start] == '0')
		start++;
	if (buf[start] == '0')
		goto bad; /* zero is never a serial */
	i = 0;
	if ((n - start) % 2 == 1)
		out[i++] = '0';
	memcpy(out + i, buf + start, n - start);
	out[i + n - start] = '\0';
	return API_OK;
bad:
	snprintf(why, whylen, "the serial must be 1 to %d hex digits (either case; colons "
		 "between bytes as openssl prints them are allowed), not zero", LEDGER_SERIAL_MAX);
	return API_INVALID_REQUEST;
}

/* exactly n digits at *p; advances *p */
static int num(const char **p, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

enum api_status api_time(const char *in, long long *out, char *why, size_t whylen)
{
	const char *p = in;
	int y, mo, d, h = 0, mi = 0, s = 0, oh = 0, om = 0, sign = 0;
	struct tm tm;
	size_t n = strspn(in, "0123456789");

	/* unix seconds have 9 digits or more (1973 on); "2026" is not a year */
	if (n >= 9 && n <= 12 && in[n] == '\0') {
		*out = strtoll(in, NULL, 10);
		return API_OK;
	}
	if (num(&p, 4, &y) || *p++ != '-' || num(&p, 2, &mo) || *p++ != '-' || num(&p, 2, &d) ||
	    mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		goto bad;
	if (*p != '\0') {
		if (*p != 'T' && *p != 't' && *p != ' ')
			goto bad;
		p++;
		if (num(&p, 2, &h) || *p++ != ':' || num(&p, 2, &mi) || *p++ != ':' ||
		    num(&p, 2, &s) || h > 23 || mi > 59 || s > 60)
			goto bad;
		if (*p == '.') {
			p++;
			n = strspn(p, "0123456789");
			if (n == 0 || n > 9)
				goto bad;
			p += n;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '+' ? 1 : -1;
			if (num(&p, 2, &oh) || *p++ != ':' || num(&p, 2, &om) || oh > 23 || om > 59)
				goto bad;
		} else {
			goto bad;
		}
		if (*p != '\0')
			goto bad;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	*out = (long long)timegm(&tm) - sign * (oh * 3600LL + om * 60LL);
	return API_OK;
bad:
	snprintf(why, whylen, "'%.40s' is not an RFC 3339 date (2026-01-01) or date-time "
		 "(2026-01-01T10:00:00Z, 2026-01-01T12:00:00+02:00), nor unix seconds", in);
	return API_INVALID_REQUEST;
}
