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
	} units[] = { { "us", 1 },	     { "ms", 1000 },		{ "s", 1000000 },
		      { "m", 60000000 }, { "h", 3600000000ull } };
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
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static bool label_valid(const char *s, size_t len)
{
	if (len == 0 || len > 63)
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
	return s && label_valid(s, strlen(s));
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

		if (!label_valid(s, l))
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

char *format_duration_us(uint64_t us, char *buf, unsigned long len)
{
	if (us == 0)
		snprintf(buf, len, "0s");
	else if (us < 1000)
		snprintf(buf, len, "%lluus", (unsigned long long)us);
	else if (us < 1000000)
		snprintf(buf, len, "%gms", (double)us / 1000.0);
	else if (us < 60000000)
		snprintf(buf, len, "%gs", (double)us / 1e6);
	else
		snprintf(buf, len, "%llum%gs", (unsigned long long)(us / 60000000),
			 (double)(us % 60000000) / 1e6);
	return buf;
}
