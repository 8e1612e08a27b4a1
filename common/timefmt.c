#include "timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void nrfca_time_iso(long long t, char out[NRFCA_TIME_ISO_LEN])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, NRFCA_TIME_ISO_LEN, "%Y-%m-%dT%H:%M:%SZ",
						    &tm) == 0)
		snprintf(out, NRFCA_TIME_ISO_LEN, "%lld", t);
}

/* n decimal digits at *p into *v; advances *p. */
static int digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a valid civil date (proleptic Gregorian). */
static long long days_from_civil(int y, int m, int d)
{
	static const int before[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
	long long days = 0;
	int yy;

	for (yy = 1970; yy < y; yy++)
		days += leap(yy) ? 366 : 365;
	return days + before[m - 1] + (m > 2 && leap(y)) + (d - 1);
}

int nrfca_time_parse(const char *s, long long *out)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;

	if (s == NULL || strnlen(s, NRFCA_TIME_INPUT_MAX + 1) > NRFCA_TIME_INPUT_MAX)
		return -1;
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return -1;
	if (*p != '\0') {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
		    digits(&p, 2, &sec))
			return -1;
		if (*p == '.') {
			p++;
			if (*p < '0' || *p > '9')
				return -1;
			while (*p >= '0' && *p <= '9')
				p++;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 ||
			    om > 59)
				return -1;
		} else {
			return -1;     /* a date-time needs its offset */
		}
		if (*p != '\0' || h > 23 || mi > 59 || sec > 60)
			return -1;
		if (sec == 60)         /* a leap second is read as :59 */
			sec = 59;
	}
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	       (long long)sign * (oh * 3600 + om * 60);
	return 0;
}
