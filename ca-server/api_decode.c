#include "api_decode.h"

#include <stdio.h>
#include <ctype.h>
#include <string.h>

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
