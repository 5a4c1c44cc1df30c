/* Helpers of the Kubernetes client modules: string buffer, URL escaping,
 * Kubernetes time formats, random numbers and jittered backoff.
 *
 * The time functions do their own calendar arithmetic (Howard Hinnant's
 * days-from-civil) instead of gmtime_r/timegm so that they are pure and
 * behave the same whatever TZ is set to.
 */
#include "ironlb/kube_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ---- buffer ---- */

static int buf_reserve(struct kube_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return -ENOMEM;
	if (extra > SIZE_MAX - b->len - 1)
		goto oom;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		goto oom;
	b->data = p;
	b->cap = cap;
	return 0;
oom:
	b->oom = true;
	return -ENOMEM;
}

int kube_buf_append(struct kube_buf *b, const void *p, size_t n)
{
	int r = buf_reserve(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int kube_buf_puts(struct kube_buf *b, const char *s)
{
	return kube_buf_append(b, s, strlen(s));
}

int kube_buf_printf(struct kube_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r = buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int kube_buf_escape(struct kube_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
		int r = unreserved(c) ? kube_buf_append(b, s, 1) : kube_buf_append(b, esc, 3);

		if (r < 0)
			return r;
	}
	return b->oom ? -ENOMEM : 0;
}

char *kube_buf_steal(struct kube_buf *b)
{
	char *s;

	if (b->oom) {
		kube_buf_free(b);
		return NULL;
	}
	s = b->data ? b->data : strdup("");
	memset(b, 0, sizeof(*b));
	return s;
}

void kube_buf_free(struct kube_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void time_fields(uint64_t wall_us, char *buf, size_t len, bool micro)
{
	uint64_t secs = wall_us / 1000000u;
	int64_t days = (int64_t)(secs / 86400u), y;
	unsigned rem = (unsigned)(secs % 86400u), m, d;
	char tmp[64];

	civil_from_days(days, &y, &m, &d);
	/* Years past 9999 do not fit the format; they do not occur. */
	snprintf(tmp, sizeof(tmp), "%04u-%02u-%02uT%02u:%02u:%02u", (unsigned)(y % 10000), m, d,
		 rem / 3600, rem / 60 % 60, rem % 60);
	if (micro)
		snprintf(tmp + 19, sizeof(tmp) - 19, ".%06uZ", (unsigned)(wall_us % 1000000u));
	else
		snprintf(tmp + 19, sizeof(tmp) - 19, "Z");
	snprintf(buf, len, "%.*s", (int)(len - 1), tmp);
}

void kube_time_format(uint64_t wall_us, char buf[KUBE_TIME_STRLEN])
{
	time_fields(wall_us, buf, KUBE_TIME_STRLEN, false);
}

void kube_microtime_format(uint64_t wall_us, char buf[KUBE_MICROTIME_STRLEN])
{
	time_fields(wall_us, buf, KUBE_MICROTIME_STRLEN, true);
}

/* Reads exactly n digits. */
static bool digits(const char **p, unsigned n, unsigned *ret)
{
	unsigned v = 0;

	for (unsigned i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (unsigned)(c - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

int kube_time_parse(const char *s, uint64_t *ret_wall_us)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, sec, oh = 0, om = 0, frac_us = 0;
	int64_t t, days;
	int sign = 0;
	const char *p = s;

	if (!s || !digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d) || (*p != 'T' && *p != 't'))
		return -EINVAL;
	p++;
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
	    !digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		unsigned n = 0, scale = 100000;

		p++;
		while (*p >= '0' && *p <= '9') {
			frac_us += (unsigned)(*p - '0') * scale;
			scale /= 10;
			p++;
			n++;
		}
		if (n == 0 || n > 9)
			return -EINVAL;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	days = days_from_civil(y, mo, d);
	t = days * 86400 + h * 3600 + mi * 60 + sec - sign * (int64_t)(oh * 3600 + om * 60);
	if (t < 0)
		return -EINVAL;
	*ret_wall_us = (uint64_t)t * 1000000u + frac_us;
	return 0;
}

/* ---- random ---- */

uint64_t kube_rand_seed(void)
{
	uint64_t seed = 0;
	struct timespec ts;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed) || seed == 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed ^= (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed ^= (uint64_t)ts.tv_sec << 20 ^ (uint64_t)getpid();
	}
	return seed ? seed : 0x2545f4914f6cdd1dull;
}

uint64_t kube_rand_next(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x2545f4914f6cdd1dull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint64_t kube_rand_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
	uint64_t span = hi - lo;

	if (span == UINT64_MAX)
		return kube_rand_next(state);
	/* Modulo bias is irrelevant for jitter. */
	return lo + kube_rand_next(state) % (span + 1);
}

/* ---- backoff ---- */

void kube_backoff_init(struct kube_backoff *b, uint64_t initial_us, uint64_t max_us, uint64_t seed)
{
	memset(b, 0, sizeof(*b));
	b->initial_us = initial_us ? initial_us : 1;
	b->max_us = max_us < b->initial_us ? b->initial_us : max_us;
	b->cur_us = b->initial_us;
	b->rng = seed ? seed : 1;
}

uint64_t kube_backoff_next(struct kube_backoff *b)
{
	uint64_t d = b->cur_us;

	b->failures++;
	b->cur_us = d > b->max_us / 2 ? b->max_us : d * 2;
	return kube_rand_range(&b->rng, d / 2, d);
}

void kube_backoff_reset(struct kube_backoff *b)
{
	b->cur_us = b->initial_us;
	b->failures = 0;
}
