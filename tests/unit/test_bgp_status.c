/* Unit tests for controller/bgp_status.c: the verdict on a BGPPeer,
 * BGPAdvertisement or BFDProfile (Valid from the decoder's reason,
 * References from the names it uses, Supported for spec.vrf), the
 * status.conditions built from it (observedGeneration, lastTransitionTime
 * kept while the status holds, other writers' conditions kept, nothing
 * changed when nothing differs), and which false conditions are news
 * (a Warning Event).
 *
 * JSON in this file is written with single quotes; q() turns them into
 * double quotes before parsing.
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

#include "../../controller/bgp_status.h"
#include "ironlb/bgp_objects.h"

#define T0 "2026-01-01T00:00:00Z"
#define T1 "2026-01-02T00:00:00Z"

static json_t *q(const char *text)
{
	char *s = strdup(text);
	json_error_t e;
	json_t *v;

	assert_non_null(s);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	v = json_loads(s, JSON_DECODE_ANY, &e);
	free(s);
	assert_non_null(v);
	return v;
}

static void *decode(int (*fn)(json_t *, void *, void **, const char **), const char *text,
		    const char **why)
{
	struct bgp_decode_ctx ctx = { .namespace = "ironlb-system" };
	json_t *obj = q(text);
	void *item = NULL;
	const char *w = NULL;
	int r = fn(obj, &ctx, &item, &w);

	json_decref(obj);
	/* The reason lives in ctx: copy it out for the test. */
	if (why) {
		static char buf[256];

		snprintf(buf, sizeof(buf), "%s", r < 0 && w ? w : "");
		*why = buf;
	}
	return r == 0 ? item : NULL;
}

/* Known objects: BFDProfile "fast", BGPPeer "good", BGPPeer "broken"
 * (invalid), IPAddressPool "v4". */
static enum bgp_ref_state lookup(enum bgp_kind kind, const char *name, void *ud)
{
	(void)ud;
	if ((kind == BGP_KIND_BFD && strcmp(name, "fast") == 0) ||
	    (kind == BGP_KIND_PEER && strcmp(name, "good") == 0) ||
	    (kind == BGP_KIND_POOL && strcmp(name, "v4") == 0))
		return BGP_REF_OK;
	if (kind == BGP_KIND_PEER && strcmp(name, "broken") == 0)
		return BGP_REF_INVALID;
	return BGP_REF_MISSING;
}

static const struct bgp_cond *find(const struct bgp_verdict *v, const char *type)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->conds[i].type, type) == 0)
			return &v->conds[i];
	return NULL;
}

static void test_invalid_peer_has_only_valid_false_with_the_decoder_reason(void **state)
{
	const char *why;
	void *p = decode(bgp_peer_decode,
			 "{'metadata':{'name':'ka'},'spec':{'myASN':1,'peerASN':2,"
			 "'peerAddress':'192.0.2.1','holdTime':'90s','keepaliveTime':'120s'}}",
			 &why);
	struct bgp_verdict v;

	(void)state;
	assert_null(p);
	bgp_status_verdict(BGP_KIND_PEER, NULL, why, lookup, NULL, &v);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.conds[0].type, "Valid");
	assert_false(v.conds[0].ok);
	assert_string_equal(v.conds[0].reason, "InvalidSpec");
	assert_string_equal(v.conds[0].message, "spec.keepaliveTime: 120s is above holdTime 90s");
	assert_string_equal(v.conds[0].event_reason, "InvalidConfiguration");
}

static void test_valid_peer_references_and_vrf(void **state)
{
	struct bgp_verdict v;
	void *p;

	(void)state;
	p = decode(bgp_peer_decode,
		   "{'metadata':{'name':'a'},'spec':{'myASN':1,'peerASN':2,"
		   "'peerAddress':'192.0.2.1','bfdProfile':'fast'}}",
		   NULL);
	assert_non_null(p);
	bgp_status_verdict(BGP_KIND_PEER, p, NULL, lookup, NULL, &v);
	assert_int_equal(v.n, 3);
	assert_true(find(&v, "Valid")->ok);
	assert_string_equal(find(&v, "Valid")->reason, "Valid");
	assert_true(find(&v, "References")->ok);
	assert_string_equal(find(&v, "References")->reason, "Resolved");
	assert_true(find(&v, "Supported")->ok);
	bgp_peer_free(p, NULL);

	p = decode(bgp_peer_decode,
		   "{'metadata':{'name':'a'},'spec':{'myASN':1,'peerASN':2,"
		   "'peerAddress':'192.0.2.1','bfdProfile':'slow','vrf':'red'}}",
		   NULL);
	assert_non_null(p);
	bgp_status_verdict(BGP_KIND_PEER, p, NULL, lookup, NULL, &v);
	assert_true(find(&v, "Valid")->ok);
	assert_false(find(&v, "References")->ok);
	assert_string_equal(find(&v, "References")->reason, "MissingReference");
	assert_string_equal(find(&v, "References")->message,
			    "spec.bfdProfile: BFDProfile \"slow\" not found");
	assert_false(find(&v, "Supported")->ok);
	assert_string_equal(find(&v, "Supported")->reason, "VRFNotSupported");
	assert_non_null(strstr(find(&v, "Supported")->message, "spec.vrf"));
	bgp_peer_free(p, NULL);
}

static void test_advert_names_every_unresolved_reference(void **state)
{
	struct bgp_verdict v;
	void *a;

	(void)state;
	a = decode(bgp_advert_decode,
		   "{'metadata':{'name':'a'},'spec':{'peers':['good','ghost','broken'],"
		   "'ipAddressPools':['v4','v6']}}",
		   NULL);
	assert_non_null(a);
	bgp_status_verdict(BGP_KIND_ADVERT, a, NULL, lookup, NULL, &v);
	assert_int_equal(v.n, 2);
	assert_null(find(&v, "Supported"));
	assert_false(find(&v, "References")->ok);
	assert_string_equal(find(&v, "References")->message,
			    "spec.peers[1]: BGPPeer \"ghost\" not found; spec.peers[2]: BGPPeer "
			    "\"broken\" is invalid (see its Valid condition); "
			    "spec.ipAddressPools[1]: IPAddressPool \"v6\" not found");
	bgp_advert_free(a, NULL);

	/* Hundreds of missing names: the message is cut, and says so. */
	{
		char text[8192];
		size_t off = 0;

		off += (size_t)snprintf(text, sizeof(text),
					"{'metadata':{'name':'a'},'spec':{'peers':[");
		for (int i = 0; i < 200; i++)
			off += (size_t)snprintf(text + off, sizeof(text) - off, "%s'p%d'",
						i ? "," : "", i);
		snprintf(text + off, sizeof(text) - off, "]}}");
		a = decode(bgp_advert_decode, text, NULL);
		assert_non_null(a);
		bgp_status_verdict(BGP_KIND_ADVERT, a, NULL, lookup, NULL, &v);
		assert_true(strlen(v.refs_msg) < sizeof(v.refs_msg));
		assert_non_null(strstr(v.refs_msg, "; and more"));
		bgp_advert_free(a, NULL);
	}
}

static void test_bfd_profile_has_only_valid(void **state)
{
	struct bgp_verdict v;
	void *b;

	(void)state;
	b = decode(bgp_bfd_decode, "{'metadata':{'name':'b'},'spec':{}}", NULL);
	assert_non_null(b);
	bgp_status_verdict(BGP_KIND_BFD, b, NULL, lookup, NULL, &v);
	assert_int_equal(v.n, 1);
	assert_true(v.conds[0].ok);
	bgp_bfd_free(b, NULL);
}

static void test_conditions_keep_transition_time_and_foreign_conditions(void **state)
{
	struct bgp_verdict v;
	json_t *have, *out, *again;
	bool changed;
	void *b;

	(void)state;
	b = decode(bgp_bfd_decode, "{'metadata':{'name':'b'},'spec':{}}", NULL);
	bgp_status_verdict(BGP_KIND_BFD, b, NULL, lookup, NULL, &v);

	/* Nothing yet: written, with now. */
	out = bgp_status_conditions(&v, NULL, 3, T0, &changed);
	assert_true(changed);
	have = q("[{'type':'Valid','status':'True','reason':'Valid','message':'',"
		 "'observedGeneration':3,'lastTransitionTime':'" T0 "'}]");
	assert_true(json_equal(out, have));
	json_decref(out);

	/* The same again, later: unchanged, the time kept. */
	out = bgp_status_conditions(&v, have, 3, T1, &changed);
	assert_false(changed);
	assert_true(json_equal(out, have));
	json_decref(out);

	/* A new generation: rewritten, the time kept (status unchanged). */
	out = bgp_status_conditions(&v, have, 4, T1, &changed);
	assert_true(changed);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(out, 0), "lastTransitionTime")),
		T0);
	assert_true(bgp_status_conditions_equal(out, out));
	assert_false(bgp_status_conditions_equal(out, have));
	json_decref(out);
	json_decref(have);

	/* Status changes: new time; a condition another writer owns stays;
	 * ours that no longer apply (References) go. */
	have = q("[{'type':'Valid','status':'False','reason':'InvalidSpec','message':'x',"
		 "'observedGeneration':3,'lastTransitionTime':'" T0 "'},"
		 "{'type':'References','status':'True','reason':'Resolved','message':''},"
		 "{'type':'Other','status':'True'}]");
	out = bgp_status_conditions(&v, have, 3, T1, &changed);
	assert_true(changed);
	assert_int_equal(json_array_size(out), 2);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(out, 0), "lastTransitionTime")),
		T1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(out, 1), "type")),
			    "Other");
	/* Applied, it is stable. */
	again = bgp_status_conditions(&v, out, 3, T0, &changed);
	assert_false(changed);
	json_decref(again);
	json_decref(out);
	json_decref(have);

	/* A missing lastTransitionTime is filled in once. */
	have = q("[{'type':'Valid','status':'True','reason':'Valid','message':'',"
		 "'observedGeneration':3}]");
	out = bgp_status_conditions(&v, have, 3, T1, &changed);
	assert_true(changed);
	assert_true(bgp_status_conditions_equal(out, have));
	json_decref(out);
	json_decref(have);

	/* Garbage where the conditions should be: replaced, no crash. */
	have = q("{'type':'Valid'}");
	out = bgp_status_conditions(&v, have, 3, T1, &changed);
	assert_true(changed);
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
	json_decref(have);
	have = q("[1, 'x', {'type':7}, {'type':'Valid','status':null}]");
	out = bgp_status_conditions(&v, have, 3, T1, &changed);
	assert_true(changed);
	json_decref(out);
	json_decref(have);
	bgp_bfd_free(b, NULL);
}

static void test_new_problems_get_an_event_once(void **state)
{
	struct bgp_cond bad = { "Valid", false, "InvalidSpec", "spec.x: bad",
				"InvalidConfiguration" };
	struct bgp_cond good = { "Valid", true, "Valid", "", NULL };
	json_t *have;

	(void)state;
	assert_true(bgp_status_is_new_problem(&bad, NULL));
	assert_false(bgp_status_is_new_problem(&good, NULL));
	have = q("[{'type':'Valid','status':'True','reason':'Valid','message':''}]");
	assert_true(bgp_status_is_new_problem(&bad, have));
	json_decref(have);
	have = q("[{'type':'Valid','status':'False','reason':'InvalidSpec','message':'spec.x: "
		 "bad'}]");
	assert_false(bgp_status_is_new_problem(&bad, have));
	json_decref(have);
	have = q("[{'type':'Valid','status':'False','reason':'InvalidSpec','message':'spec.y: "
		 "bad'}]");
	assert_true(bgp_status_is_new_problem(&bad, have));
	json_decref(have);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_peer_has_only_valid_false_with_the_decoder_reason),
		cmocka_unit_test(test_valid_peer_references_and_vrf),
		cmocka_unit_test(test_advert_names_every_unresolved_reference),
		cmocka_unit_test(test_bfd_profile_has_only_valid),
		cmocka_unit_test(test_conditions_keep_transition_time_and_foreign_conditions),
		cmocka_unit_test(test_new_problems_get_an_event_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
