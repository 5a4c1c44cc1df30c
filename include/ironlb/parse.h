/* Parsers for command-line and configuration values. Strict: the whole
 * string must match, no surrounding whitespace. Return 0 or -EINVAL/-ERANGE,
 * with *ret untouched on failure. */
#ifndef IRONLB_PARSE_H
#define IRONLB_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* A duration: a decimal number (fraction allowed) with a unit among "us",
 * "ms", "s", "m", "h" ("100ms", "1.5s", "2m"), or "0". Result in
 * microseconds, at most 24 h. */
int parse_duration_us(const char *s, uint64_t *ret);

/* "true|false|1|0|yes|no|on|off". */
int parse_bool(const char *s, bool *ret);

/* Decimal unsigned integer in [min, max]; no sign, no leading zeros except
 * "0" itself. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* RFC 1123 DNS label as Kubernetes uses for namespaces and Service names:
 * 1..63 characters of [a-z0-9-], starting and ending alphanumeric. */
bool dns1123_label_valid(const char *s);
/* RFC 1123 subdomain (object names of most kinds): dot-separated labels,
 * at most 253 characters. */
bool dns1123_subdomain_valid(const char *s);

/* Formats a duration in microseconds compactly ("100ms", "1.5s", "2m0s"),
 * keeping every digit: parse_duration_us() reads back the same value.
 * Returns buf, cut to len bytes if need be. */
char *format_duration_us(uint64_t us, char *buf, unsigned long len);

#endif
