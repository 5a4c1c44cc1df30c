/* Strict parsers for flag and configuration values. */
#include "ironlb/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DURATION_MAX_US (24ull * 3600 * 1000000)

int parse_duration_us(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		uint64_t us;
	} units[] = { { "us", 1 },
		      { "ms", 1000 },
		      { "s", 1000000 },
		      { "m", 60000000 },
		      { "h", 3600000000ull } };
	uint64_t whole = 0, frac = 0, frac_div = 1;
	const char *p = s;
	size_t digits = 0;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*ret = 0;
		return 0;
	}
	for (; isdigit((unsigned char)*p); p++, digits++) {
		if (whole > DURATION_MAX_US)
			return -ERANGE;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		for (; isdigit((unsigned char)*p); p++, digits++) {
			if (frac_div < 1000000000ull) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				frac_div *= 10;
			}
		}
	}
	if (!digits)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].suffix) == 0) {
			uint64_t us;

			if (whole > DURATION_MAX_US / units[i].us + 1)
				return -ERANGE;
			us = whole * units[i].us + frac * units[i].us / frac_div;
			if (us > DURATION_MAX_US)
				return -ERANGE;
			*ret = us;
			return 0;
		}
	}
	return -EINVAL;
}

int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "true", "1", "yes", "on" };
	static const char *const no[] = { "false", "0", "no", "off" };

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < 4; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p;

	if (!s || !*s || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		unsigned d = (unsigned)(*p - '0');

		if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* One label's characters: [a-z0-9-], alphanumeric at both ends. */
static bool label_chars_valid(const char *s, size_t len)
{
	if (len == 0)
		return false;
	if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(islower(c) || isdigit(c) || c == '-'))
			return false;
	}
	return true;
}

bool dns1123_label_valid(const char *s)
{
	size_t len;

	if (!s)
		return false;
	len = strlen(s);
	return len <= 63 && label_chars_valid(s, len);
}

bool dns1123_subdomain_valid(const char *s)
{
	size_t len;

	if (!s)
		return false;
	len = strlen(s);
	if (len == 0 || len > 253)
		return false;
	while (*s) {
		size_t l = strcspn(s, ".");

		/* Like Kubernetes' IsDNS1123Subdomain, which the API server
		 * applies to these names: only the whole is limited, not each
		 * part, so a name it accepted is never refused here. */
		if (!label_chars_valid(s, l))
			return false;
		s += l;
		if (*s == '.') {
			s++;
			if (!*s)
				return false;
		}
	}
	return true;
}

/* Appends "<whole>[.<fraction>]<unit>" for us / unit_us with every
 * significant digit of the fraction kept, so that parse_duration_us() gives
 * back exactly us. */
static void put_scaled(char *buf, unsigned long len, uint64_t us, uint64_t unit_us,
		       const char *unit)
{
	size_t used = strlen(buf);
	char frac[16] = "";
	uint64_t rem = us % unit_us;

	if (used >= len)
		return;
	if (rem) {
		int width = unit_us == 1000 ? 3 : 6;
		int n = snprintf(frac, sizeof(frac), ".%0*llu", width, (unsigned long long)rem);

		while (n > 1 && frac[n - 1] == '0')
			frac[--n] = '\0';
	}
	snprintf(buf + used, len - used, "%llu%s%s", (unsigned long long)(us / unit_us), frac,
		 unit);
}

char *format_duration_us(uint64_t us, char *buf, unsigned long len)
{
	if (!len)
		return buf;
	buf[0] = '\0';
	if (us == 0) {
		snprintf(buf, len, "0s");
	} else if (us < 1000) {
		snprintf(buf, len, "%lluus", (unsigned long long)us);
	} else if (us < 1000000) {
		put_scaled(buf, len, us, 1000, "ms");
	} else if (us < 60000000) {
		put_scaled(buf, len, us, 1000000, "s");
	} else {
		snprintf(buf, len, "%llum", (unsigned long long)(us / 60000000));
		put_scaled(buf, len, us % 60000000, 1000000, "s");
	}
	return buf;
}
