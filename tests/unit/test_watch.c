/* Unit tests for lib/watch.c: the watch stream framer (every possible
 * chunk split of a stream gives the same lines, line length bounds,
 * overflow behaviour and memory) and the event parser (every event type,
 * and every way an event can be malformed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/watch.h"

/* Collects every line of the framer into one string, "|" after each. */
static int drain(struct watch_framer *f, char *out, size_t outlen)
{
	const char *line;
	size_t n, used = strlen(out);
	int r;

	while ((r = watch_framer_next(f, &line, &n)) == 1) {
		assert_true(memchr(line, '\n', n) == NULL);
		assert_true(used + n + 2 < outlen);
		memcpy(out + used, line, n);
		used += n;
		out[used++] = '|';
		out[used] = '\0';
	}
	return r;
}

static const char stream[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
			     "\"resourceVersion\":\"1\"}}}\n"
			     "\r\n"
			     "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\","
			     "\"resourceVersion\":\"2\"}}}\r\n"
			     "   \n"
			     "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\","
			     "\"resourceVersion\":\"3\"}}}\n"
			     "partial";

static const char stream_lines[] =
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}|"
	"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"2\"}"
	"}}|"
	"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"3\"}}"
	"}|";

static void test_framer_one_chunk_gives_every_line(void **state)
{
	struct watch_framer *f = watch_framer_new(0);
	char out[1024] = "";

	(void)state;
	assert_int_equal(watch_framer_feed(f, stream, strlen(stream)), 0);
	assert_int_equal(drain(f, out, sizeof(out)), 0);
	assert_string_equal(out, stream_lines);
	assert_int_equal(watch_framer_pending(f), strlen("partial"));
	watch_framer_free(f);
}

static void test_framer_every_two_way_split_gives_same_lines(void **state)
{
	size_t len = strlen(stream);

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		struct watch_framer *f = watch_framer_new(0);
		char out[1024] = "";

		assert_int_equal(watch_framer_feed(f, stream, cut), 0);
		assert_int_equal(drain(f, out, sizeof(out)), 0);
		assert_int_equal(watch_framer_feed(f, stream + cut, len - cut), 0);
		assert_int_equal(drain(f, out, sizeof(out)), 0);
		if (strcmp(out, stream_lines) != 0)
			fail_msg("split at %zu: got %s", cut, out);
		watch_framer_free(f);
	}
}

static void test_framer_every_three_way_split_gives_same_lines(void **state)
{
	size_t len = strlen(stream);

	(void)state;
	for (size_t a = 0; a <= len; a++) {
		for (size_t b = a; b <= len; b++) {
			struct watch_framer *f = watch_framer_new(0);
			char out[1024] = "";

			watch_framer_feed(f, stream, a);
			drain(f, out, sizeof(out));
			watch_framer_feed(f, stream + a, b - a);
			/* Not draining between some feeds: lines queue up. */
			if ((a + b) % 2)
				drain(f, out, sizeof(out));
			watch_framer_feed(f, stream + b, len - b);
			assert_int_equal(drain(f, out, sizeof(out)), 0);
			if (strcmp(out, stream_lines) != 0)
				fail_msg("split at %zu,%zu: got %s", a, b, out);
			watch_framer_free(f);
		}
	}
}

static void test_framer_byte_by_byte(void **state)
{
	struct watch_framer *f = watch_framer_new(0);
	char out[1024] = "";

	(void)state;
	for (size_t i = 0; i < strlen(stream); i++) {
		assert_int_equal(watch_framer_feed(f, stream + i, 1), 0);
		assert_int_equal(drain(f, out, sizeof(out)), 0);
	}
	assert_string_equal(out, stream_lines);
	watch_framer_free(f);
}

static void test_framer_line_of_exactly_max_is_accepted(void **state)
{
	struct watch_framer *f = watch_framer_new(8);
	char out[64] = "";

	(void)state;
	assert_int_equal(watch_framer_feed(f, "12345678\nabc\n", 13), 0);
	assert_int_equal(drain(f, out, sizeof(out)), 0);
	assert_string_equal(out, "12345678|abc|");
	/* The same across chunks. */
	assert_int_equal(watch_framer_feed(f, "1234", 4), 0);
	assert_int_equal(watch_framer_feed(f, "5678", 4), 0);
	assert_int_equal(watch_framer_feed(f, "\n", 1), 0);
	out[0] = '\0';
	assert_int_equal(drain(f, out, sizeof(out)), 0);
	assert_string_equal(out, "12345678|");
	watch_framer_free(f);
}

static void test_framer_line_over_max_in_one_chunk_fails_after_earlier_lines(void **state)
{
	struct watch_framer *f = watch_framer_new(8);
	char out[64] = "";
	int r;

	(void)state;
	r = watch_framer_feed(f, "ok\n123456789\nlater\n", 19);
	/* Either feed or next reports it; the earlier line comes first. */
	assert_true(r == 0 || r == -EMSGSIZE);
	assert_int_equal(drain(f, out, sizeof(out)), -EMSGSIZE);
	assert_string_equal(out, "ok|");
	/* Sticky until reset; nothing after the long line is returned. */
	assert_int_equal(watch_framer_feed(f, "x\n", 2), -EMSGSIZE);
	assert_int_equal(drain(f, out, sizeof(out)), -EMSGSIZE);
	assert_string_equal(out, "ok|");
	watch_framer_reset(f);
	assert_int_equal(watch_framer_feed(f, "x\n", 2), 0);
	out[0] = '\0';
	assert_int_equal(drain(f, out, sizeof(out)), 0);
	assert_string_equal(out, "x|");
	watch_framer_free(f);
}

static void test_framer_partial_line_over_max_is_refused_without_storing(void **state)
{
	struct watch_framer *f = watch_framer_new(8);
	char out[64] = "";

	(void)state;
	assert_int_equal(watch_framer_feed(f, "done\n1234", 9), 0);
	assert_int_equal(watch_framer_feed(f, "56789", 5), -EMSGSIZE);
	/* Memory stays bounded: the dropped bytes were not stored. */
	assert_true(watch_framer_pending(f) <= 9);
	assert_int_equal(drain(f, out, sizeof(out)), -EMSGSIZE);
	assert_string_equal(out, "done|");
	watch_framer_free(f);
}

static void test_framer_line_completed_over_max_across_chunks_fails(void **state)
{
	struct watch_framer *f = watch_framer_new(8);
	char out[64] = "";

	(void)state;
	assert_int_equal(watch_framer_feed(f, "123456", 6), 0);
	assert_int_equal(watch_framer_feed(f, "789\nok\n", 7), -EMSGSIZE);
	assert_int_equal(drain(f, out, sizeof(out)), -EMSGSIZE);
	assert_string_equal(out, "");
	watch_framer_free(f);
}

static void test_framer_huge_stream_of_small_lines_keeps_memory_small(void **state)
{
	struct watch_framer *f = watch_framer_new(64);
	char chunk[4096];
	size_t lines = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (i % 16 == 15) ? '\n' : 'a';
	for (int round = 0; round < 1000; round++) {
		const char *line;
		size_t n;

		assert_int_equal(watch_framer_feed(f, chunk, sizeof(chunk)), 0);
		while (watch_framer_next(f, &line, &n) == 1) {
			assert_int_equal(n, 15);
			lines++;
		}
		assert_true(watch_framer_pending(f) < 16);
	}
	assert_int_equal(lines, 1000 * sizeof(chunk) / 16);
	watch_framer_free(f);
}

static void test_framer_gives_back_memory_after_a_large_line(void **state)
{
	size_t big = 1 << 20;
	struct watch_framer *f = watch_framer_new(2 * big);
	char *data = malloc(big + 1);
	const char *line;
	size_t n;

	(void)state;
	memset(data, 'x', big);
	data[big] = '\n';
	assert_int_equal(watch_framer_feed(f, data, big + 1), 0);
	assert_int_equal(watch_framer_next(f, &line, &n), 1);
	assert_int_equal(n, big);
	/* The next feed compacts and shrinks; nothing observable but the
	 * framer still works (ASan checks the realloc'd buffer). */
	assert_int_equal(watch_framer_feed(f, "a\n", 2), 0);
	assert_int_equal(watch_framer_next(f, &line, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(watch_framer_next(f, &line, &n), 0);
	free(data);
	watch_framer_free(f);
}

/* ---- events ---- */

static void parse_ok(const char *line, struct watch_event *ev)
{
	const char *why = NULL;
	int r = watch_event_parse(line, strlen(line), ev, &why);

	if (r != 0)
		fail_msg("parse(%s) = %d (%s)", line, r, why ? why : "?");
}

static void parse_bad(const char *line, const char *want_why)
{
	struct watch_event ev;
	const char *why = NULL;
	int r;

	memset(&ev, 0xa5, sizeof(ev));
	r = watch_event_parse(line, strlen(line), &ev, &why);
	if (r != -EBADMSG)
		fail_msg("parse(%s) = %d, want -EBADMSG", line, r);
	assert_non_null(why);
	if (want_why && !strstr(why, want_why))
		fail_msg("parse(%s): reason \"%s\", want \"%s\"", line, why, want_why);
	/* Untouched on failure. */
	for (size_t i = 0; i < sizeof(ev); i++)
		assert_int_equal(((unsigned char *)&ev)[i], 0xa5);
}

static void test_event_added_modified_deleted(void **state)
{
	static const char *const lines[] = {
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\","
		"\"resourceVersion\":\"10\"}}}",
		"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"namespace\":\"ns\",\"name\":"
		"\"a\","
		"\"resourceVersion\":\"11\"}}}",
		"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"namespace\":\"ns\",\"name\":"
		"\"a\","
		"\"resourceVersion\":\"12\"}}}",
	};
	static const enum watch_type types[] = { WATCH_ADDED, WATCH_MODIFIED, WATCH_DELETED };

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct watch_event ev;
		char rv[16];

		parse_ok(lines[i], &ev);
		assert_int_equal(ev.type, types[i]);
		assert_string_equal(ev.ns, "ns");
		assert_string_equal(ev.name, "a");
		snprintf(rv, sizeof(rv), "%d", 10 + i);
		assert_string_equal(ev.resource_version, rv);
		assert_true(json_is_object(ev.object));
		watch_event_clear(&ev);
	}
}

static void test_event_cluster_scoped_has_empty_namespace(void **state)
{
	struct watch_event ev;

	(void)state;
	parse_ok("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"node1\","
		 "\"resourceVersion\":\"3\"}}}",
		 &ev);
	assert_string_equal(ev.ns, "");
	assert_string_equal(ev.name, "node1");
	watch_event_clear(&ev);
}

static void test_event_bookmark_needs_only_resource_version(void **state)
{
	struct watch_event ev;

	(void)state;
	parse_ok("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Service\",\"metadata\":{"
		 "\"resourceVersion\":\"99\",\"creationTimestamp\":null}}}",
		 &ev);
	assert_int_equal(ev.type, WATCH_BOOKMARK);
	assert_string_equal(ev.resource_version, "99");
	watch_event_clear(&ev);
	parse_bad("{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}", "resourceVersion");
}

static void test_event_error_410_carries_status(void **state)
{
	struct watch_event ev;

	(void)state;
	parse_ok("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
		 "\"status\":\"Failure\",\"message\":\"too old resource version: 5 (10)\","
		 "\"reason\":\"Expired\",\"code\":410}}",
		 &ev);
	assert_int_equal(ev.type, WATCH_ERROR);
	assert_int_equal(ev.code, 410);
	assert_string_equal(ev.reason, "Expired");
	assert_string_equal(ev.message, "too old resource version: 5 (10)");
	watch_event_clear(&ev);
	/* Minimal Status. */
	parse_ok("{\"type\":\"ERROR\",\"object\":{}}", &ev);
	assert_int_equal(ev.code, 0);
	assert_string_equal(ev.reason, "");
	watch_event_clear(&ev);
}

static void test_event_malformed_lines_are_rejected_with_a_reason(void **state)
{
	(void)state;
	parse_bad("", "invalid JSON");
	parse_bad("{", "invalid JSON");
	parse_bad("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"", "invalid JSON");
	parse_bad("[1,2]", "not a JSON object");
	parse_bad("\"ADDED\"", NULL);
	parse_bad("{\"object\":{}}", "type");
	parse_bad("{\"type\":7,\"object\":{}}", "type");
	parse_bad("{\"type\":\"added\",\"object\":{}}", "unknown event type");
	parse_bad("{\"type\":\"ADDED\"}", "object");
	parse_bad("{\"type\":\"ADDED\",\"object\":[]}", "object");
	parse_bad("{\"type\":\"ADDED\",\"object\":null}", "object");
	parse_bad("{\"type\":\"ADDED\",\"object\":{}}", "metadata");
	parse_bad("{\"type\":\"ADDED\",\"object\":{\"metadata\":7}}", "metadata");
	parse_bad("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}",
		  "metadata.name");
	parse_bad("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":5,"
		  "\"resourceVersion\":\"1\"}}}",
		  "metadata.name");
	parse_bad("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}",
		  "resourceVersion");
	parse_bad("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
		  "\"resourceVersion\":1}}}",
		  "resourceVersion");
	parse_bad("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
		  "\"resourceVersion\":\"1\",\"namespace\":[]}}}",
		  "namespace");
	parse_bad("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
		  "\"resourceVersion\":\"1\",\"labels\":\"x\"}}}",
		  "labels");
	parse_bad("{\"type\":\"ERROR\",\"object\":{\"code\":\"410\"}}", "code");
	parse_bad("{\"type\":\"ADDED\",\"object\":{}} trailing", "invalid JSON");
}

static void test_event_nul_byte_is_rejected(void **state)
{
	static const char line[] =
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\0b\","
		"\"resourceVersion\":\"1\"}}}";
	struct watch_event ev;
	const char *why;

	(void)state;
	assert_int_equal(watch_event_parse(line, sizeof(line) - 1, &ev, &why), -EBADMSG);
}

static void test_event_type_names(void **state)
{
	(void)state;
	assert_string_equal(watch_type_name(WATCH_ADDED), "ADDED");
	assert_string_equal(watch_type_name(WATCH_ERROR), "ERROR");
	assert_string_equal(watch_type_name((enum watch_type)0), "?");
	assert_string_equal(watch_type_name((enum watch_type)42), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framer_one_chunk_gives_every_line),
		cmocka_unit_test(test_framer_every_two_way_split_gives_same_lines),
		cmocka_unit_test(test_framer_every_three_way_split_gives_same_lines),
		cmocka_unit_test(test_framer_byte_by_byte),
		cmocka_unit_test(test_framer_line_of_exactly_max_is_accepted),
		cmocka_unit_test(test_framer_line_over_max_in_one_chunk_fails_after_earlier_lines),
		cmocka_unit_test(test_framer_partial_line_over_max_is_refused_without_storing),
		cmocka_unit_test(test_framer_line_completed_over_max_across_chunks_fails),
		cmocka_unit_test(test_framer_huge_stream_of_small_lines_keeps_memory_small),
		cmocka_unit_test(test_framer_gives_back_memory_after_a_large_line),
		cmocka_unit_test(test_event_added_modified_deleted),
		cmocka_unit_test(test_event_cluster_scoped_has_empty_namespace),
		cmocka_unit_test(test_event_bookmark_needs_only_resource_version),
		cmocka_unit_test(test_event_error_410_carries_status),
		cmocka_unit_test(test_event_malformed_lines_are_rejected_with_a_reason),
		cmocka_unit_test(test_event_nul_byte_is_rejected),
		cmocka_unit_test(test_event_type_names),
	};

	return cmocka_run_group_tests_name("watch", tests, NULL, NULL);
}
