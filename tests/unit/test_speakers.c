/* Unit tests for controller/speakers.c: decoding speaker Leases strictly
 * (bad parts ignored and named, never fatal) and the set of addresses in
 * use from the Leases still fresh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/speakers.h"
#include "ironlb/informer.h"

/* 2026-11-28T13:20:00Z */
#define T0 (1795872000ull * 1000000)

/* A speaker Lease renewed at 2026-11-28T13:20:00.123456Z for duration
 * seconds (0: field absent), with the annotation value annot (NULL:
 * none; a JSON value spliced in as is, so tests can pass non-strings). */
static json_t *lease_json(const char *node, int duration, const char *annot_json)
{
	json_t *o = json_pack("{s:{s:s, s:s, s:{s:s}}, s:{s:s, s:s}}", "metadata", "name",
			      "speaker-x", "namespace", "ironlb-system", "labels",
			      "app.kubernetes.io/component", "speaker", "spec", "holderIdentity",
			      node, "renewTime", "2026-11-28T13:20:00.123456Z");
	json_t *meta = json_object_get(o, "metadata");

	assert_non_null(o);
	json_object_set_new(meta, "name", json_sprintf("speaker-%s", node));
	if (duration)
		json_object_set_new(json_object_get(o, "spec"), "leaseDurationSeconds",
				    json_integer(duration));
	if (annot_json) {
		json_t *v = json_loads(annot_json, JSON_DECODE_ANY, NULL);

		assert_non_null(v);
		json_object_set_new(meta, "annotations",
				    json_pack("{s:o}", SPEAKERS_ANNOTATION, v));
	}
	return o;
}

static struct speakers_lease *decode_ok(json_t *o)
{
	struct speakers_lease *l = NULL;
	const char *why = NULL;

	assert_int_equal(speakers_lease_decode(o, &l, &why), 0);
	assert_non_null(l);
	json_decref(o);
	return l;
}

static const char *addr_str(const struct ip_addr *a)
{
	static char buf[4][IP_STRLEN];
	static int k;

	return ip_format(a, buf[k++ % 4], IP_STRLEN);
}

static void test_speakers_decode_reads_in_use_and_expiry(void **state)
{
	struct speakers_lease *l = decode_ok(lease_json(
		"n1", 40,
		"\"{\\\"heartbeat\\\":\\\"192.0.2.1:7482\\\",\\\"macs\\\":[\\\"aa:bb:cc:"
		"dd:ee:ff\\\"],\\\"prefixes\\\":[\\\"192.0.2.0/24\\\"],\\\"inUse\\\":[\\\""
		"192.0.2.21\\\",\\\"2001:db8::15\\\"]}\""));

	assert_string_equal(l->name, "speaker-n1");
	assert_string_equal(l->holder, "n1");
	assert_int_equal(l->expiry_wall_us, T0 + 123456 + 40 * 1000000ull);
	assert_null(l->problem);
	assert_int_equal(l->nin_use, 2);
	assert_string_equal(addr_str(&l->in_use[0]), "192.0.2.21");
	assert_string_equal(addr_str(&l->in_use[1]), "2001:db8::15");
	speakers_lease_free(l);
	/* No annotation, no duration: nothing in use, the default duration. */
	l = decode_ok(lease_json("n2", 0, NULL));
	assert_int_equal(l->nin_use, 0);
	assert_null(l->in_use);
	assert_null(l->problem);
	assert_int_equal(l->expiry_wall_us, T0 + 123456 + SPEAKERS_DEFAULT_DURATION_S * 1000000ull);
	speakers_lease_free(l);
	/* A report without inUse: nothing in use, no problem. */
	l = decode_ok(lease_json("n3", 15, "\"{\\\"macs\\\":[]}\""));
	assert_int_equal(l->nin_use, 0);
	assert_null(l->problem);
	speakers_lease_free(l);
	speakers_lease_free(NULL);
}

static void test_speakers_decode_hostile_report_ignored_and_named(void **state)
{
	static const struct {
		const char *annot, *problem;
		size_t n;
	} cases[] = {
		{ "\"not json\"", "metadata.annotations[ironlb.io/speaker]: not a JSON object", 0 },
		{ "\"[1,2]\"", "metadata.annotations[ironlb.io/speaker]: not a JSON object", 0 },
		{ "42", "metadata.annotations[ironlb.io/speaker]: not a string", 0 },
		{ "\"{\\\"inUse\\\":\\\"192.0.2.1\\\"}\"",
		  "metadata.annotations[ironlb.io/speaker].inUse: not an array", 0 },
		{ "\"{\\\"inUse\\\":[\\\"192.0.2.1\\\",7,\\\"host\\\",\\\"192.0.2.0/24\\\","
		  "\\\"2001:db8::1\\\"]}\"",
		  "metadata.annotations[ironlb.io/speaker].inUse[1]: not an IP address", 2 },
		{ "\"{\\\"inUse\\\":null}\"", NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct speakers_lease *l = decode_ok(lease_json("n1", 15, cases[i].annot));

		if (cases[i].problem)
			assert_string_equal(l->problem, cases[i].problem);
		else
			assert_null(l->problem);
		assert_int_equal(l->nin_use, cases[i].n);
		speakers_lease_free(l);
	}
}

static void test_speakers_decode_caps_in_use_entries(void **state)
{
	json_t *arr = json_array(), *o, *report;
	struct speakers_lease *l;
	char *text;

	for (int i = 0; i < 100; i++)
		json_array_append_new(arr, json_sprintf("192.0.2.%d", i));
	report = json_pack("{s:o}", "inUse", arr);
	text = json_dumps(report, JSON_COMPACT);
	o = lease_json("n1", 15, NULL);
	json_object_set_new(json_object_get(o, "metadata"), "annotations",
			    json_pack("{s:s}", SPEAKERS_ANNOTATION, text));
	l = decode_ok(o);
	assert_int_equal(l->nin_use, SPEAKERS_IN_USE_MAX);
	assert_string_equal(addr_str(&l->in_use[63]), "192.0.2.63");
	assert_string_equal(l->problem, "metadata.annotations[ironlb.io/speaker].inUse: 100 "
					"entries, only the first 64 read");
	speakers_lease_free(l);
	free(text);
	json_decref(report);
}

static void test_speakers_decode_bad_times_never_fresh_or_default(void **state)
{
	json_t *o = lease_json("n1", 15, NULL);
	struct speakers_lease *l;

	json_object_set_new(json_object_get(o, "spec"), "renewTime", json_string("yesterday"));
	l = decode_ok(o);
	assert_int_equal(l->expiry_wall_us, 0);
	assert_string_equal(l->problem, "spec.renewTime: not an RFC 3339 time");
	speakers_lease_free(l);
	o = lease_json("n1", 15, NULL);
	json_object_del(json_object_get(o, "spec"), "renewTime");
	l = decode_ok(o);
	assert_int_equal(l->expiry_wall_us, 0);
	speakers_lease_free(l);
	o = lease_json("n1", 0, NULL);
	json_object_set_new(json_object_get(o, "spec"), "leaseDurationSeconds", json_string("15"));
	l = decode_ok(o);
	assert_int_equal(l->expiry_wall_us, T0 + 123456 + 15 * 1000000ull);
	assert_non_null(l->problem);
	speakers_lease_free(l);
	/* A huge duration is capped, not overflowed. */
	o = lease_json("n1", 0, NULL);
	json_object_set_new(json_object_get(o, "spec"), "leaseDurationSeconds",
			    json_integer(INT64_MAX));
	l = decode_ok(o);
	assert_true(l->expiry_wall_us > T0);
	speakers_lease_free(l);
}

static void test_speakers_decode_skips_other_and_released_leases(void **state)
{
	struct speakers_lease *l = NULL;
	const char *why = NULL;
	json_t *o = lease_json("n1", 15, NULL);

	json_object_set_new(json_object_get(json_object_get(o, "metadata"), "labels"),
			    "app.kubernetes.io/component", json_string("controller"));
	assert_int_equal(speakers_lease_decode(o, &l, &why), INFORMER_SKIP);
	json_decref(o);
	o = lease_json("n1", 15, NULL);
	json_object_set_new(json_object_get(o, "spec"), "holderIdentity", json_string(""));
	assert_int_equal(speakers_lease_decode(o, &l, &why), INFORMER_SKIP);
	json_decref(o);
	o = lease_json("n1", 15, NULL);
	json_object_set_new(o, "spec", json_string("garbage"));
	assert_int_equal(speakers_lease_decode(o, &l, &why), INFORMER_SKIP);
	json_decref(o);
	o = json_pack("{s:[]}", "metadata");
	assert_int_equal(speakers_lease_decode(o, &l, &why), -EBADMSG);
	assert_non_null(why);
	json_decref(o);
	assert_null(l);
}

static struct speakers_lease *mk(const char *holder, uint64_t expiry, const char *addrs)
{
	struct speakers_lease *l = calloc(1, sizeof(*l));
	char tmp[256], *save = NULL;

	assert_non_null(l);
	l->holder = strdup(holder);
	l->name = strdup(holder);
	l->expiry_wall_us = expiry;
	l->in_use = calloc(8, sizeof(*l->in_use));
	snprintf(tmp, sizeof(tmp), "%s", addrs);
	for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
		assert_int_equal(ip_parse(t, &l->in_use[l->nin_use++], NULL), 0);
	return l;
}

static void test_speakers_in_use_union_of_fresh_leases_sorted_distinct(void **state)
{
	struct speakers_lease *ls[4] = {
		mk("n2", T0 + 30000000, "2001:db8::15,192.0.2.21"),
		mk("n1", T0 + 10000000, "192.0.2.21,192.0.2.3"),
		mk("n3", T0 - 1, "192.0.2.99"), /* expired: a dead speaker */
		mk("n4", T0 + 5000000, ""),	/* fresh but reports nothing */
	};
	struct speakers_addr *set = NULL;
	uint64_t next = 1;
	int n;

	n = speakers_in_use((const struct speakers_lease *const *)ls, 4, T0, &set, &next);
	assert_int_equal(n, 3);
	assert_string_equal(addr_str(&set[0].addr), "192.0.2.3");
	assert_string_equal(set[0].holder, "n1");
	/* Reported by two: the lowest holder names it. */
	assert_string_equal(addr_str(&set[1].addr), "192.0.2.21");
	assert_string_equal(set[1].holder, "n1");
	assert_string_equal(addr_str(&set[2].addr), "2001:db8::15");
	assert_string_equal(set[2].holder, "n2");
	/* The next change without an event: n1 expiring. */
	assert_int_equal(next, T0 + 10000000);
	free(set);
	/* At n1's expiry exactly it no longer counts. */
	n = speakers_in_use((const struct speakers_lease *const *)ls, 4, T0 + 10000000, &set,
			    &next);
	assert_int_equal(n, 2);
	assert_string_equal(addr_str(&set[0].addr), "192.0.2.21");
	assert_string_equal(set[0].holder, "n2");
	assert_int_equal(next, T0 + 30000000);
	free(set);
	/* Everything expired: empty, no timer. */
	n = speakers_in_use((const struct speakers_lease *const *)ls, 4, T0 + 30000000, &set,
			    &next);
	assert_int_equal(n, 0);
	assert_null(set);
	assert_int_equal(next, 0);
	n = speakers_in_use(NULL, 0, T0, &set, &next);
	assert_int_equal(n, 0);
	for (int i = 0; i < 4; i++)
		speakers_lease_free(ls[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_speakers_decode_reads_in_use_and_expiry),
		cmocka_unit_test(test_speakers_decode_hostile_report_ignored_and_named),
		cmocka_unit_test(test_speakers_decode_caps_in_use_entries),
		cmocka_unit_test(test_speakers_decode_bad_times_never_fresh_or_default),
		cmocka_unit_test(test_speakers_decode_skips_other_and_released_leases),
		cmocka_unit_test(test_speakers_in_use_union_of_fresh_leases_sorted_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
