/* Unit tests for lib/log.c: logfmt and JSON lines, escaping of whatever a
 * field carries, level filtering, truncation of over-long lines to a line
 * that still parses, errno names and the rate limiter.
 *
 * Output goes to an open_memstream buffer through log_set_stream(); JSON
 * lines are checked by parsing them with jansson.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/log.h"

/* The line length log.c promises never to exceed, newline included. */
#define LINE_MAX_BYTES 4096

struct capture {
	FILE *f;
	char *buf;
	size_t len;
};

static int setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->f = open_memstream(&c->buf, &c->len);
	if (!c->f) {
		free(c);
		return -1;
	}
	log_set_stream(c->f);
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct capture *c = *state;

	log_set_stream(NULL);
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	fclose(c->f);
	free(c->buf);
	free(c);
	return 0;
}

/* Forgets what was captured. */
static void reset(struct capture *c)
{
	fclose(c->f);
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
	log_set_stream(c->f);
}

/* Everything written so far (NUL-terminated, owned by the capture). */
static const char *output(struct capture *c)
{
	fflush(c->f);
	return c->buf ? c->buf : "";
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("\"%s\" not found in:\n%s", needle, haystack);
}

/* Parses the single line in out as a JSON object; new reference. */
static json_t *parse_json_line(const char *out)
{
	json_error_t err;
	size_t len = strlen(out);
	json_t *j;

	if (len == 0 || out[len - 1] != '\n' || count_lines(out) != 1)
		fail_msg("want exactly one newline-terminated line, got:\n%s", out);
	j = json_loadb(out, len - 1, 0, &err); /* new */
	if (!j)
		fail_msg("not valid JSON (%s at %d): %s", err.text, err.position, out);
	if (!json_is_object(j))
		fail_msg("not a JSON object: %s", out);
	return j;
}

static const char *jstr(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key)); /* borrowed */

	if (!s)
		fail_msg("no string field \"%s\"", key);
	return s;
}

static void test_logfmt_line_has_ts_level_comp_msg_then_fields(void **state)
{
	struct capture *c = *state;
	const char *out;
	regex_t re;

	log_info("arp", "sent", LF_STR("ifname", "eth0"), LF_INT("n", -5), LF_UINT("u", 42),
		 LF_DBL("d", 1.5));
	out = output(c);
	assert_int_equal(count_lines(out), 1);
	assert_int_equal(
		regcomp(&re,
			"^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
			"level=info comp=arp msg=sent ifname=eth0 n=-5 u=42 d=1.5\n$",
			REG_EXTENDED | REG_NOSUB),
		0);
	if (regexec(&re, out, 0, NULL, 0) != 0) {
		regfree(&re);
		fail_msg("unexpected line: %s", out);
	}
	regfree(&re);
}

static void test_logfmt_quotes_and_escapes_values(void **state)
{
	struct capture *c = *state;
	const char *out;

	log_warn("test", "hello world", LF_STR("space", "a b"), LF_STR("quote", "say \"hi\""),
		 LF_STR("newline", "a\nb"), LF_STR("cr", "a\rb"), LF_STR("tab", "a\tb"),
		 LF_STR("ctl", "\x01\x1f\x7f"), LF_STR("eq", "k=v"), LF_STR("bs", "a\\b"),
		 LF_STR("empty", ""), LF_STR("null", NULL), LF_STR("plain", "x-1.2/3"));
	out = output(c);
	assert_int_equal(count_lines(out), 1);
	assert_contains(out, " level=warn comp=test msg=\"hello world\" ");
	assert_contains(out, " space=\"a b\"");
	assert_contains(out, " quote=\"say \\\"hi\\\"\"");
	assert_contains(out, " newline=\"a\\nb\"");
	assert_contains(out, " cr=\"a\\rb\"");
	assert_contains(out, " tab=\"a\\tb\"");
	assert_contains(out, " ctl=\"\\u0001\\u001f\\u007f\"");
	assert_contains(out, " eq=\"k=v\"");
	assert_contains(out, " bs=\"a\\\\b\"");
	assert_contains(out, " empty=\"\"");
	assert_contains(out, " null=\"\"");
	assert_contains(out, " plain=x-1.2/3\n");
}

static void test_logfmt_never_writes_raw_control_characters(void **state)
{
	struct capture *c = *state;
	char hostile[64];
	const char *out;

	for (int i = 0; i < 63; i++)
		hostile[i] = (char)(i % 31 + 1);
	hostile[63] = '\0';
	log_error("x", hostile, LF_STR("v", hostile));
	out = output(c);
	assert_int_equal(count_lines(out), 1);
	for (const char *p = out; *p != '\n'; p++)
		if ((unsigned char)*p < 0x20)
			fail_msg("raw control byte 0x%02x in %s", *p, out);
}

static void test_json_line_round_trips_every_field(void **state)
{
	struct capture *c = *state;
	json_t *j;

	log_setup(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON);
	log_debug("ctrl", "assigned", LF_STR("service", "default/web"), LF_INT("n", -7),
		  LF_UINT("u", 9223372036854775807ull), LF_DBL("d", 0.25), LF_STR("null", NULL));
	j = parse_json_line(output(c));
	assert_string_equal(jstr(j, "level"), "debug");
	assert_string_equal(jstr(j, "comp"), "ctrl");
	assert_string_equal(jstr(j, "msg"), "assigned");
	assert_string_equal(jstr(j, "service"), "default/web");
	assert_int_equal(strlen(jstr(j, "ts")), strlen("2024-01-02T03:04:05.678Z"));
	assert_int_equal(json_integer_value(json_object_get(j, "n")), -7);
	assert_int_equal(json_integer_value(json_object_get(j, "u")), 9223372036854775807ll);
	assert_true(json_is_real(json_object_get(j, "d")) ||
		    json_is_integer(json_object_get(j, "d")));
	assert_true(json_number_value(json_object_get(j, "d")) == 0.25);
	assert_true(json_is_null(json_object_get(j, "null")));
	assert_null(json_object_get(j, "truncated"));
	json_decref(j);
}

static void test_json_line_parses_with_hostile_values(void **state)
{
	static const char *const hostile[] = {
		"\"",
		"\\",
		"\"}",
		"\n",
		"\r\n",
		"\t",
		"\x01\x02\x1b[31m",
		"\x7f",
		"{\"a\":1}",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		"\\u0000",
		"</script>",
		"a=b c=d",
	};
	struct capture *c = *state;
	json_t *j;

	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		reset(c);
		log_info(hostile[i], hostile[i], LF_STR("v", hostile[i]), LF_STR(hostile[i], "k"));
		j = parse_json_line(output(c));
		/* Valid UTF-8 and every escape come back byte for byte. */
		assert_string_equal(jstr(j, "msg"), hostile[i]);
		assert_string_equal(jstr(j, "comp"), hostile[i]);
		assert_string_equal(jstr(j, "v"), hostile[i]);
		assert_string_equal(jstr(j, hostile[i]), "k");
		json_decref(j);
	}
}

/* Bytes that are not UTF-8 (a packet's payload, a corrupt name) must not
 * make the line unparseable: they are replaced, never passed through. */
static void test_json_line_parses_with_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"\xff",
		"a\xfe"
		"b",
		"\xc3",
		"\xc3(",
		"\xe2\x82",
		"\xed\xa0\x80",
		"\xc0\xaf",
		"\xf8\x88\x80\x80\x80",
		"\xf4\x90\x80\x80",
		"ok\x80",
	};
	struct capture *c = *state;
	json_t *j;

	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reset(c);
		log_info("x", bad[i], LF_STR("v", bad[i]));
		j = parse_json_line(output(c));
		assert_non_null(json_object_get(j, "v"));
		json_decref(j);
	}
}

static void test_json_line_parses_with_non_finite_doubles(void **state)
{
	struct capture *c = *state;
	json_t *j;

	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	log_info("x", "numbers", LF_DBL("nan", NAN), LF_DBL("inf", INFINITY),
		 LF_DBL("ninf", -INFINITY));
	j = parse_json_line(output(c));
	assert_non_null(json_object_get(j, "nan"));
	assert_non_null(json_object_get(j, "inf"));
	assert_non_null(json_object_get(j, "ninf"));
	json_decref(j);
}

static void test_levels_below_the_minimum_are_dropped(void **state)
{
	struct capture *c = *state;
	const char *out;

	log_setup(LOG_LEVEL_WARN, LOG_FORMAT_TEXT);
	assert_false(log_enabled(LOG_LEVEL_DEBUG));
	assert_false(log_enabled(LOG_LEVEL_INFO));
	assert_true(log_enabled(LOG_LEVEL_WARN));
	assert_true(log_enabled(LOG_LEVEL_ERROR));
	log_debug("t", "d");
	log_info("t", "i");
	log_warn("t", "w");
	log_error("t", "e");
	log_emit(LOG_LEVEL_INFO, "t", "direct", NULL, 0);
	out = output(c);
	assert_int_equal(count_lines(out), 2);
	assert_contains(out, "level=warn comp=t msg=w\n");
	assert_contains(out, "level=error comp=t msg=e\n");
}

static void test_parse_level_and_format(void **state)
{
	enum log_level lvl = LOG_LEVEL_ERROR;
	enum log_format fmt = LOG_FORMAT_JSON;

	(void)state;
	assert_int_equal(log_parse_level("debug", &lvl), 0);
	assert_int_equal(lvl, LOG_LEVEL_DEBUG);
	assert_int_equal(log_parse_level("warn", &lvl), 0);
	assert_int_equal(lvl, LOG_LEVEL_WARN);
	assert_int_equal(log_parse_level("loud", &lvl), -EINVAL);
	assert_int_equal(log_parse_level("", &lvl), -EINVAL);
	assert_int_equal(log_parse_level("INFO", &lvl), -EINVAL);
	assert_int_equal(lvl, LOG_LEVEL_WARN);
	assert_int_equal(log_parse_format("text", &fmt), 0);
	assert_int_equal(fmt, LOG_FORMAT_TEXT);
	assert_int_equal(log_parse_format("json", &fmt), 0);
	assert_int_equal(fmt, LOG_FORMAT_JSON);
	assert_int_equal(log_parse_format("xml", &fmt), -EINVAL);
	assert_int_equal(fmt, LOG_FORMAT_JSON);
}

static char *big_string(size_t n, char ch)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

static void test_json_over_long_line_is_truncated_and_still_parses(void **state)
{
	struct capture *c = *state;
	char *big = big_string(10000, 'v');
	const char *out;
	json_t *j;

	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	log_info("svc", "short message", LF_STR("service", "ns/name"), LF_STR("big", big),
		 LF_ERR(-ENOENT));
	out = output(c);
	assert_true(strlen(out) <= LINE_MAX_BYTES);
	j = parse_json_line(out);
	assert_true(json_is_true(json_object_get(j, "truncated")));
	assert_string_equal(jstr(j, "msg"), "short message");
	/* The field that did not fit is left out, not the ones around it. */
	assert_null(json_object_get(j, "big"));
	assert_string_equal(jstr(j, "service"), "ns/name");
	assert_string_equal(jstr(j, "err"), "ENOENT");
	assert_string_equal(jstr(j, "level"), "info");
	json_decref(j);
	free(big);
}

static void test_json_over_long_message_is_truncated_and_still_parses(void **state)
{
	struct capture *c = *state;
	char *big = big_string(10000, '"');
	const char *out;
	json_t *j;

	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	log_info(big, big, LF_STR("big", big));
	out = output(c);
	assert_true(strlen(out) <= LINE_MAX_BYTES);
	j = parse_json_line(out);
	assert_true(json_is_true(json_object_get(j, "truncated")));
	assert_true(strlen(jstr(j, "msg")) > 100);
	assert_int_equal(strspn(jstr(j, "msg"), "\""), strlen(jstr(j, "msg")));
	json_decref(j);
	free(big);
}

/* A cut must not split a multi-byte character or an escape sequence. */
static void test_json_truncation_never_splits_a_character(void **state)
{
	struct capture *c = *state;
	char *big = malloc(20001);

	assert_non_null(big);
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	for (int shift = 0; shift < 8; shift++) {
		json_t *j;
		size_t n = 0;

		for (int i = 0; i < shift; i++)
			big[n++] = 'x';
		while (n + 3 <= 20000) {
			/* "é" then a control character escaped as \u0001 */
			big[n++] = (char)0xc3;
			big[n++] = (char)0xa9;
			big[n++] = 0x01;
		}
		big[n] = '\0';
		reset(c);
		log_info("x", big);
		j = parse_json_line(output(c));
		assert_true(json_is_true(json_object_get(j, "truncated")));
		json_decref(j);
	}
	free(big);
}

static void test_logfmt_over_long_line_is_truncated_to_one_line(void **state)
{
	struct capture *c = *state;
	char *big = big_string(10000, ' ');
	const char *out;
	size_t len;

	log_info("svc", "short", LF_STR("big", big));
	out = output(c);
	len = strlen(out);
	assert_true(len <= LINE_MAX_BYTES);
	assert_int_equal(count_lines(out), 1);
	assert_int_equal(out[len - 1], '\n');
	assert_contains(out, " msg=short");
	assert_contains(out, " truncated=true\n");
	free(big);

	reset(c);
	big = big_string(10000, '\n');
	log_info(big, big);
	out = output(c);
	len = strlen(out);
	assert_true(len <= LINE_MAX_BYTES);
	assert_int_equal(count_lines(out), 1);
	assert_contains(out, "\" truncated=true\n");
	free(big);
}

static void test_line_just_under_the_limit_is_not_truncated(void **state)
{
	struct capture *c = *state;
	char *big = big_string(3900, 'a');
	json_t *j;

	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	log_info("c", "m", LF_STR("big", big));
	j = parse_json_line(output(c));
	assert_null(json_object_get(j, "truncated"));
	assert_string_equal(jstr(j, "big"), big);
	json_decref(j);
	free(big);
}

static void test_errno_name_names_known_and_unknown_errors(void **state)
{
	(void)state;
	assert_string_equal(log_errno_name(-ENOENT), "ENOENT");
	assert_string_equal(log_errno_name(ENOENT), "ENOENT");
	assert_string_equal(log_errno_name(-EADDRINUSE), "EADDRINUSE");
	assert_string_equal(log_errno_name(-ENETDOWN), "ENETDOWN");
	assert_string_equal(log_errno_name(-9999), "E9999");
	assert_string_equal(log_errno_name(9999), "E9999");
	assert_non_null(log_errno_name(0));
	assert_non_null(log_errno_name(INT_MIN));
	assert_non_null(log_errno_name(INT_MAX));
}

static void test_errno_field_uses_the_name(void **state)
{
	struct capture *c = *state;

	log_warn("arp", "send failed", LF_STR("ifname", "eth0"), LF_ERR(-ENETDOWN));
	assert_contains(output(c), " ifname=eth0 err=ENETDOWN\n");
}

static void test_ratelimit_allows_burst_then_reports_suppressed(void **state)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(1000000, 2);
	unsigned sup = 12345;
	uint64_t t = 5000000;

	(void)state;
	assert_true(log_ratelimit_ok(&rl, t, &sup));
	assert_int_equal(sup, 0);
	assert_true(log_ratelimit_ok(&rl, t + 1, &sup));
	assert_int_equal(sup, 0);
	assert_false(log_ratelimit_ok(&rl, t + 2, &sup));
	assert_false(log_ratelimit_ok(&rl, t + 500000, &sup));
	assert_false(log_ratelimit_ok(&rl, t + 999999, &sup));
	assert_int_equal(sup, 0);
	/* The next window opens and says how many were dropped, once. */
	assert_true(log_ratelimit_ok(&rl, t + 1000000, &sup));
	assert_int_equal(sup, 3);
	assert_true(log_ratelimit_ok(&rl, t + 1000001, &sup));
	assert_int_equal(sup, 0);
	assert_false(log_ratelimit_ok(&rl, t + 1000002, &sup));
	assert_true(log_ratelimit_ok(&rl, t + 5000000, &sup));
	assert_int_equal(sup, 1);
	/* A window after one with nothing suppressed reports 0. */
	assert_true(log_ratelimit_ok(&rl, t + 7000000, &sup));
	assert_int_equal(sup, 0);
	assert_true(log_ratelimit_ok(&rl, t + 7000001, NULL));
}

static void test_ratelimit_works_from_time_zero(void **state)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(1000, 1);
	unsigned sup = 7;

	(void)state;
	assert_true(log_ratelimit_ok(&rl, 0, &sup));
	assert_int_equal(sup, 0);
	assert_false(log_ratelimit_ok(&rl, 1, &sup));
	assert_false(log_ratelimit_ok(&rl, 999, &sup));
	assert_true(log_ratelimit_ok(&rl, 1000, &sup));
	assert_int_equal(sup, 2);
}

int main(void)
{
	const struct CMUnitTest log_tests[] = {
		cmocka_unit_test_setup_teardown(test_logfmt_line_has_ts_level_comp_msg_then_fields,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_logfmt_quotes_and_escapes_values, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_logfmt_never_writes_raw_control_characters,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_line_round_trips_every_field, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_line_parses_with_hostile_values, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_line_parses_with_invalid_utf8, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_line_parses_with_non_finite_doubles,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_levels_below_the_minimum_are_dropped, setup,
						teardown),
		cmocka_unit_test(test_parse_level_and_format),
		cmocka_unit_test_setup_teardown(
			test_json_over_long_line_is_truncated_and_still_parses, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_json_over_long_message_is_truncated_and_still_parses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_truncation_never_splits_a_character,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_logfmt_over_long_line_is_truncated_to_one_line,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_just_under_the_limit_is_not_truncated,
						setup, teardown),
		cmocka_unit_test(test_errno_name_names_known_and_unknown_errors),
		cmocka_unit_test_setup_teardown(test_errno_field_uses_the_name, setup, teardown),
		cmocka_unit_test(test_ratelimit_allows_burst_then_reports_suppressed),
		cmocka_unit_test(test_ratelimit_works_from_time_zero),
	};

	return cmocka_run_group_tests(log_tests, NULL, NULL);
}
