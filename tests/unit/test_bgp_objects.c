/* Unit tests for lib/bgp_objects.c: BGPPeer, BGPAdvertisement, BFDProfile
 * and basic-auth Secret decoders apply MetalLB's defaults and rules, and
 * every rejected object gets a reason naming the offending field; Go
 * durations, communities and strict base64 parse as documented.
 *
 * JSON in this file is written with single quotes for readability; q()
 * turns them into double quotes before parsing.
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

#include "ironlb/bgp_objects.h"
#include "ironlb/informer.h"

typedef int (*decode_fn)(json_t *, void *, void **, const char **);

static struct bgp_decode_ctx ctx = { .namespace = "ironlb-system" };

/* Decodes text (single quotes for double quotes); returns the result. */
static int decode(decode_fn fn, void *c, const char *text, void **ret, const char **why)
{
	char *s = strdup(text);
	json_error_t e;
	json_t *obj;
	int r;

	assert_non_null(s);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	obj = json_loads(s, JSON_DECODE_ANY, &e); /* new */
	if (!obj)
		fail_msg("bad test JSON %s: %s", s, e.text);
	free(s);
	*ret = NULL;
	*why = NULL;
	r = fn(obj, c, ret, why);
	json_decref(obj);
	return r;
}

static void *ok(decode_fn fn, const char *text)
{
	void *item;
	const char *why;
	int r = decode(fn, &ctx, text, &item, &why);

	if (r != 0)
		fail_msg("decode of %s failed: %d %s", text, r, why ? why : "");
	assert_non_null(item);
	return item;
}

/* Asserts that text is rejected with a reason mentioning each of the
 * '|'-separated words of field, with and without a ctx. */
static void bad(decode_fn fn, const char *text, const char *field)
{
	void *cs[2] = { &ctx, NULL };

	for (int i = 0; i < 2; i++) {
		char words[200], *w, *save = NULL;
		void *item;
		const char *why;
		int r = decode(fn, cs[i], text, &item, &why);

		if (r != -EBADMSG)
			fail_msg("%s: expected -EBADMSG, got %d", text, r);
		assert_null(item);
		assert_non_null(why);
		snprintf(words, sizeof(words), "%s", field);
		for (w = strtok_r(words, "|", &save); w; w = strtok_r(NULL, "|", &save))
			if (!strstr(why, w))
				fail_msg("%s: reason \"%s\" does not mention \"%s\"", text, why, w);
	}
}

#define PEER(extra)                                                                                \
	"{'metadata':{'name':'p1'},'spec':{'myASN':64512,'peerASN':64513,'peerAddress':"           \
	"'192.0.2.1'" extra "}}"

static void free_peer(void *p)
{
	bgp_peer_free(p, NULL);
}

/* ---- durations ---- */

static void test_duration_accepts_go_forms_in_whole_seconds(void **state)
{
	static const struct {
		const char *s;
		uint32_t v;
	} good[] = {
		{ "90s", 90 },	       { "1m30s", 90 },
		{ "3m", 180 },	       { "1h", 3600 },
		{ "1h1m1s", 3661 },    { "2000ms", 2 },
		{ "1.5m", 90 },	       { ".5m", 30 },
		{ "5.s", 5 },	       { "0", 0 },
		{ "0s", 0 },	       { "+5s", 5 },
		{ "1000000us", 1 },    { "1000000\xc2\xb5s", 1 },
		{ "3000000000ns", 3 }, { "4294967295s", 4294967295u },
		{ "0.5s0.5s", 1 },
	};
	uint32_t v;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		why = NULL;
		if (bgp_duration_parse_s(good[i].s, &v, &why) != 0)
			fail_msg("%s rejected: %s", good[i].s, why);
		assert_int_equal(v, good[i].v);
	}
}

static void test_duration_rejects_fractions_signs_garbage_and_overflow(void **state)
{
	static const char *badv[] = {
		"",
		"s",
		"5",
		"-1s",
		"-0",
		"5x",
		"5 s",
		" 5s",
		"1500ms",
		"500ms",
		"1.0000000001s",
		"1.5.5s",
		".",
		"1us",
		"5sm",
		"4294967296s",
		"71582789m",
		"1193047h",
		"18446744073709551616s",
		"99999999999999999999h",
		"1.0000000000000000001s",
		"1ss",
		"1m30",
		"NaN",
		"1e3s",
	};
	uint32_t v = 7;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(badv) / sizeof(badv[0]); i++) {
		why = NULL;
		if (bgp_duration_parse_s(badv[i], &v, &why) != -EINVAL)
			fail_msg("\"%s\" accepted", badv[i]);
		assert_non_null(why);
		assert_int_equal(v, 7);
	}
	assert_int_equal(bgp_duration_parse_s(NULL, &v, &why), -EINVAL);
}

/* ---- BGPPeer ---- */

static void test_peer_minimal_gets_metallb_defaults(void **state)
{
	struct bgp_peer *p = ok(bgp_peer_decode, PEER(""));

	(void)state;
	assert_string_equal(p->name, "p1");
	assert_int_equal(p->my_asn, 64512);
	assert_int_equal(p->peer_asn, 64513);
	assert_int_equal(p->peer_addr.family, AF_INET);
	assert_int_equal(p->peer_port, 179);
	assert_int_equal(p->hold_s, 90);
	assert_int_equal(p->keepalive_s, 30);
	assert_int_equal(p->connect_s, 0);
	assert_false(p->has_source);
	assert_false(p->has_router_id);
	assert_int_equal(p->n_node_sel, 0);
	assert_null(p->password);
	assert_null(p->password_secret);
	assert_null(p->bfd_profile);
	assert_false(p->ebgp_multihop);
	assert_null(p->vrf);
	free_peer(p);
}

static void test_peer_every_field(void **state)
{
	struct bgp_peer *p = ok(
		bgp_peer_decode,
		"{'metadata':{'name':'tor'},'spec':{'myASN':4294967295,'peerASN':1,"
		"'peerAddress':'2001:db8::1','sourceAddress':'2001:db8::2','peerPort':1179,"
		"'holdTime':'1m30s','keepaliveTime':'10s','connectTime':'5s','routerID':"
		"'192.0.2.9','nodeSelectors':[{'matchLabels':{'rack':'a'}}],'password':'s3cr et!',"
		"'bfdProfile':'fast','ebgpMultiHop':true,'vrf':'red'}}");
	struct labels *l;
	json_t *lj = json_pack("{s:s}", "rack", "a"); /* new */
	char buf[IP_STRLEN];

	(void)state;
	assert_int_equal(p->my_asn, 4294967295u);
	assert_int_equal(p->peer_asn, 1);
	assert_string_equal(ip_format(&p->peer_addr, buf, sizeof(buf)), "2001:db8::1");
	assert_true(p->has_source);
	assert_string_equal(ip_format(&p->source_addr, buf, sizeof(buf)), "2001:db8::2");
	assert_int_equal(p->peer_port, 1179);
	assert_int_equal(p->hold_s, 90);
	assert_int_equal(p->keepalive_s, 10);
	assert_int_equal(p->connect_s, 5);
	assert_true(p->has_router_id);
	assert_string_equal(ip_format(&p->router_id, buf, sizeof(buf)), "192.0.2.9");
	assert_int_equal(p->n_node_sel, 1);
	assert_int_equal(labels_from_json(lj, "l", &l, NULL, 0), 0);
	assert_true(bgp_selectors_match(p->node_sel, p->n_node_sel, l));
	assert_false(bgp_selectors_match(p->node_sel, p->n_node_sel, NULL));
	assert_string_equal(p->password, "s3cr et!");
	assert_string_equal(p->bfd_profile, "fast");
	assert_true(p->ebgp_multihop);
	/* A VRF decodes: the speaker reports it unsupported and skips the peer. */
	assert_string_equal(p->vrf, "red");
	labels_free(l);
	json_decref(lj);
	free_peer(p);
}

static void test_peer_required_fields_and_asn_ranges(void **state)
{
	(void)state;
	bad(bgp_peer_decode, "{'metadata':{'name':'p1'}}", "spec");
	bad(bgp_peer_decode, "{'metadata':{'name':'p1'},'spec':[]}", "spec");
	bad(bgp_peer_decode,
	    "{'metadata':{'name':'p1'},'spec':{'peerASN':1,'peerAddress':'192.0.2.1'}}",
	    "spec.myASN|required");
	bad(bgp_peer_decode,
	    "{'metadata':{'name':'p1'},'spec':{'myASN':1,'peerAddress':'192.0.2.1'}}",
	    "spec.peerASN|required");
	bad(bgp_peer_decode, "{'metadata':{'name':'p1'},'spec':{'myASN':1,'peerASN':2}}",
	    "spec.peerAddress|required");
	bad(bgp_peer_decode,
	    "{'metadata':{'name':'p1'},'spec':{'myASN':0,'peerASN':1,'peerAddress':'192.0.2.1'}}",
	    "spec.myASN");
	bad(bgp_peer_decode,
	    "{'metadata':{'name':'p1'},'spec':{'myASN':1,'peerASN':4294967296,'peerAddress':"
	    "'192.0.2.1'}}",
	    "spec.peerASN");
	bad(bgp_peer_decode,
	    "{'metadata':{'name':'p1'},'spec':{'myASN':'64512','peerASN':1,'peerAddress':"
	    "'192.0.2.1'}}",
	    "spec.myASN|integer");
	bad(bgp_peer_decode,
	    "{'metadata':{'name':'p1'},'spec':{'myASN':1.5,'peerASN':1,'peerAddress':'192.0.2.1'}}",
	    "spec.myASN");
	bad(bgp_peer_decode,
	    "{'metadata':{'name':'p1'},'spec':{'myASN':1,'peerASN':-1,'peerAddress':'192.0.2.1'}}",
	    "spec.peerASN");
	bad(bgp_peer_decode, "{'spec':{}}", "metadata");
	bad(bgp_peer_decode, "[1]", "object");
	bad(bgp_peer_decode, "{'metadata':{'name':7},'spec':{}}", "metadata.name");
}

static void test_peer_addresses_and_port(void **state)
{
	struct bgp_peer *p;

	(void)state;
	bad(bgp_peer_decode,
	    "{'metadata':{'name':'p1'},'spec':{'myASN':1,'peerASN':2,'peerAddress':'router1'}}",
	    "spec.peerAddress");
	bad(bgp_peer_decode,
	    "{'metadata':{'name':'p1'},'spec':{'myASN':1,'peerASN':2,'peerAddress':7}}",
	    "spec.peerAddress|string");
	bad(bgp_peer_decode, PEER(",'sourceAddress':'2001:db8::1'"), "spec.sourceAddress|family");
	bad(bgp_peer_decode, PEER(",'sourceAddress':'192.0.2.300'"), "spec.sourceAddress");
	bad(bgp_peer_decode, PEER(",'sourceAddress':{}"), "spec.sourceAddress");
	bad(bgp_peer_decode, PEER(",'peerPort':0"), "spec.peerPort");
	bad(bgp_peer_decode, PEER(",'peerPort':65536"), "spec.peerPort");
	bad(bgp_peer_decode, PEER(",'peerPort':'179'"), "spec.peerPort");
	bad(bgp_peer_decode, PEER(",'routerID':'2001:db8::1'"), "spec.routerID|IPv4");
	bad(bgp_peer_decode, PEER(",'routerID':'x'"), "spec.routerID");
	bad(bgp_peer_decode, PEER(",'routerID':true"), "spec.routerID");

	p = ok(bgp_peer_decode, PEER(",'peerPort':65535,'sourceAddress':''"));
	assert_false(p->has_source);
	assert_int_equal(p->peer_port, 65535);
	free_peer(p);
	p = ok(bgp_peer_decode, PEER(",'sourceAddress':'192.0.2.2','routerID':null"));
	assert_true(p->has_source);
	assert_false(p->has_router_id);
	free_peer(p);
}

static void test_peer_hold_keepalive_and_connect_times(void **state)
{
	struct bgp_peer *p;

	(void)state;
	p = ok(bgp_peer_decode, PEER(",'holdTime':'0s'"));
	assert_int_equal(p->hold_s, 0);
	assert_int_equal(p->keepalive_s, 0);
	free_peer(p);
	p = ok(bgp_peer_decode, PEER(",'holdTime':'3s'"));
	assert_int_equal(p->hold_s, 3);
	assert_int_equal(p->keepalive_s, 1);
	free_peer(p);
	p = ok(bgp_peer_decode, PEER(",'holdTime':'0','keepaliveTime':'0s'"));
	assert_int_equal(p->hold_s, 0);
	assert_int_equal(p->keepalive_s, 0);
	free_peer(p);
	p = ok(bgp_peer_decode, PEER(",'holdTime':'3m','keepaliveTime':'3m','connectTime':'0s'"));
	assert_int_equal(p->hold_s, 180);
	assert_int_equal(p->keepalive_s, 180);
	assert_int_equal(p->connect_s, 0);
	free_peer(p);
	p = ok(bgp_peer_decode, PEER(",'holdTime':'65535s','connectTime':'18h12m15s'"));
	assert_int_equal(p->hold_s, 65535);
	assert_int_equal(p->keepalive_s, 21845);
	assert_int_equal(p->connect_s, 65535);
	free_peer(p);

	bad(bgp_peer_decode, PEER(",'holdTime':'2s'"), "spec.holdTime|3s");
	bad(bgp_peer_decode, PEER(",'holdTime':'1500ms'"), "spec.holdTime|whole");
	bad(bgp_peer_decode, PEER(",'holdTime':'-90s'"), "spec.holdTime|negative");
	bad(bgp_peer_decode, PEER(",'holdTime':'ninety'"), "spec.holdTime");
	bad(bgp_peer_decode, PEER(",'holdTime':'90'"), "spec.holdTime|unit");
	bad(bgp_peer_decode, PEER(",'holdTime':'99999999999999999h'"), "spec.holdTime|long");
	bad(bgp_peer_decode, PEER(",'holdTime':'65536s'"), "spec.holdTime|65535");
	bad(bgp_peer_decode, PEER(",'holdTime':90"), "spec.holdTime|string");
	bad(bgp_peer_decode, PEER(",'keepaliveTime':'2m'"), "spec.keepaliveTime|holdTime");
	bad(bgp_peer_decode, PEER(",'holdTime':'0s','keepaliveTime':'1s'"),
	    "spec.keepaliveTime|holdTime");
	bad(bgp_peer_decode, PEER(",'keepaliveTime':'0s'"), "spec.keepaliveTime|holdTime 0");
	bad(bgp_peer_decode, PEER(",'keepaliveTime':'0.5s'"), "spec.keepaliveTime|whole");
	bad(bgp_peer_decode, PEER(",'keepaliveTime':[]"), "spec.keepaliveTime");
	bad(bgp_peer_decode, PEER(",'connectTime':'1.5s'"), "spec.connectTime");
	bad(bgp_peer_decode, PEER(",'connectTime':'65536s'"), "spec.connectTime|65535");
	bad(bgp_peer_decode, PEER(",'connectTime':5"), "spec.connectTime");
}

static void test_peer_node_selectors_bfd_multihop(void **state)
{
	struct bgp_peer *p;

	(void)state;
	bad(bgp_peer_decode, PEER(",'nodeSelectors':{}"), "spec.nodeSelectors");
	bad(bgp_peer_decode,
	    PEER(",'nodeSelectors':[{'matchExpressions':[{'key':'a','operator':'Foo'}]}]"),
	    "spec.nodeSelectors[");
	bad(bgp_peer_decode, PEER(",'nodeSelectors':[{},7]"), "spec.nodeSelectors[");
	bad(bgp_peer_decode, PEER(",'bfdProfile':1"), "spec.bfdProfile");
	bad(bgp_peer_decode, PEER(",'ebgpMultiHop':'yes'"), "spec.ebgpMultiHop|boolean");
	bad(bgp_peer_decode,
	    "{'metadata':{'name':'p1'},'spec':{'myASN':64512,'peerASN':64512,'peerAddress':"
	    "'192.0.2.1','ebgpMultiHop':true}}",
	    "spec.ebgpMultiHop|eBGP");
	bad(bgp_peer_decode, PEER(",'vrf':5"), "spec.vrf");
	p = ok(bgp_peer_decode, PEER(",'nodeSelectors':[],'bfdProfile':'','vrf':'',"
				     "'ebgpMultiHop':false"));
	assert_int_equal(p->n_node_sel, 0);
	assert_null(p->bfd_profile);
	assert_null(p->vrf);
	assert_false(p->ebgp_multihop);
	assert_true(bgp_selectors_match(p->node_sel, p->n_node_sel, NULL));
	free_peer(p);
}

static void test_peer_password_and_secret(void **state)
{
	struct bgp_peer *p;
	char buf[512];
	char pw81[82];

	(void)state;
	memset(pw81, 'a', 81);
	pw81[81] = 0;
	p = ok(bgp_peer_decode, PEER(",'passwordSecret':{'name':'bgp-auth','namespace':"
				     "'ironlb-system'}"));
	assert_string_equal(p->password_secret, "bgp-auth");
	assert_null(p->password);
	free_peer(p);
	p = ok(bgp_peer_decode, PEER(",'passwordSecret':{'name':'bgp-auth'}"));
	assert_string_equal(p->password_secret, "bgp-auth");
	free_peer(p);
	/* Empty means unset, as in MetalLB. */
	p = ok(bgp_peer_decode, PEER(",'password':'','passwordSecret':{'name':'s'}"));
	assert_null(p->password);
	assert_string_equal(p->password_secret, "s");
	free_peer(p);
	p = ok(bgp_peer_decode, PEER(",'password':'x','passwordSecret':{'name':''}"));
	assert_string_equal(p->password, "x");
	assert_null(p->password_secret);
	free_peer(p);
	snprintf(buf, sizeof(buf), PEER(",'password':'%.80s'"), pw81);
	p = ok(bgp_peer_decode, buf);
	assert_int_equal(strlen(p->password), 80);
	free_peer(p);

	bad(bgp_peer_decode, PEER(",'password':'x','passwordSecret':{'name':'s'}"),
	    "spec.password|spec.passwordSecret");
	snprintf(buf, sizeof(buf), PEER(",'password':'%s'"), pw81);
	bad(bgp_peer_decode, buf, "spec.password|80");
	bad(bgp_peer_decode, PEER(",'password':'a\\nb'"), "spec.password");
	bad(bgp_peer_decode, PEER(",'password':'a\\u0001b'"), "spec.password");
	bad(bgp_peer_decode, PEER(",'password':'caf\\u00e9'"), "spec.password|printable");
	bad(bgp_peer_decode, PEER(",'password':'a\\\"b'"), "spec.password");
	bad(bgp_peer_decode, PEER(",'password':'a\\u007fb'"), "spec.password");
	bad(bgp_peer_decode, PEER(",'password':12"), "spec.password|string");
	bad(bgp_peer_decode, PEER(",'passwordSecret':'s'"), "spec.passwordSecret|object");
	bad(bgp_peer_decode, PEER(",'passwordSecret':{'name':3}"), "spec.passwordSecret.name");
	bad(bgp_peer_decode, PEER(",'passwordSecret':{'name':'s','namespace':[]}"),
	    "spec.passwordSecret.namespace");
	/* Only with a ctx does the decoder know ironlb's namespace. */
	{
		void *item;
		const char *why;

		assert_int_equal(decode(bgp_peer_decode, &ctx,
					PEER(",'passwordSecret':{'name':'s','namespace':'kube-"
					     "system'}"),
					&item, &why),
				 -EBADMSG);
		assert_non_null(strstr(why, "spec.passwordSecret.namespace"));
		assert_non_null(strstr(why, "ironlb's namespace"));
		assert_null(item);
	}
}

/* ---- BGPAdvertisement ---- */

#define ADV(spec) "{'metadata':{'name':'a1'},'spec':{" spec "}}"

static void test_advert_defaults(void **state)
{
	struct bgp_advert *a = ok(bgp_advert_decode, "{'metadata':{'name':'a1'}}");

	(void)state;
	assert_string_equal(a->name, "a1");
	assert_int_equal(a->agg_len, 32);
	assert_int_equal(a->agg_len_v6, 128);
	assert_false(a->has_local_pref);
	assert_int_equal(a->n_pools + a->n_pool_sel + a->n_node_sel + a->n_peers, 0);
	assert_int_equal(a->n_communities, 0);
	assert_true(bgp_advert_selects_pool(a, "any", NULL));
	assert_true(bgp_advert_has_peer(a, "any"));
	bgp_advert_free(a, NULL);
}

static void test_advert_every_field_and_communities_sorted_distinct(void **state)
{
	struct bgp_advert *a =
		ok(bgp_advert_decode,
		   ADV("'ipAddressPools':['lab'],'ipAddressPoolSelectors':[{'matchLabels':"
		       "{'bgp':'yes'}}],'nodeSelectors':[{'matchLabels':{'rack':'a'}}],'peers':"
		       "['tor1','tor2'],'aggregationLength':24,'aggregationLengthV6':64,"
		       "'localPref':0,'communities':['65000:200','large:1:2:3','65000:100',"
		       "'65000:100','0:0','065000:0100','large:1:2:3','large:0:4294967295:0']"));
	json_t *lj = json_pack("{s:s}", "bgp", "yes"); /* new */
	struct labels *l;
	char buf[48];

	(void)state;
	assert_int_equal(labels_from_json(lj, "l", &l, NULL, 0), 0);
	assert_int_equal(a->n_pools, 1);
	assert_int_equal(a->n_pool_sel, 1);
	assert_int_equal(a->n_node_sel, 1);
	assert_int_equal(a->n_peers, 2);
	assert_int_equal(a->agg_len, 24);
	assert_int_equal(a->agg_len_v6, 64);
	assert_true(a->has_local_pref);
	assert_int_equal(a->local_pref, 0);
	assert_int_equal(a->n_communities, 5);
	bgp_community_format(&a->communities[0], buf, sizeof(buf));
	assert_string_equal(buf, "0:0");
	bgp_community_format(&a->communities[1], buf, sizeof(buf));
	assert_string_equal(buf, "65000:100");
	bgp_community_format(&a->communities[2], buf, sizeof(buf));
	assert_string_equal(buf, "65000:200");
	bgp_community_format(&a->communities[3], buf, sizeof(buf));
	assert_string_equal(buf, "large:0:4294967295:0");
	bgp_community_format(&a->communities[4], buf, sizeof(buf));
	assert_string_equal(buf, "large:1:2:3");
	assert_true(bgp_advert_selects_pool(a, "lab", NULL));
	assert_true(bgp_advert_selects_pool(a, "other", l));
	assert_false(bgp_advert_selects_pool(a, "other", NULL));
	assert_false(bgp_advert_selects_pool(a, NULL, NULL));
	assert_true(bgp_advert_has_peer(a, "tor2"));
	assert_false(bgp_advert_has_peer(a, "tor3"));
	assert_false(bgp_advert_has_peer(a, NULL));
	labels_free(l);
	json_decref(lj);
	bgp_advert_free(a, NULL);

	a = ok(bgp_advert_decode, ADV("'aggregationLength':0,'aggregationLengthV6':0,"
				      "'localPref':4294967295,'communities':[]"));
	assert_int_equal(a->agg_len, 0);
	assert_int_equal(a->agg_len_v6, 0);
	assert_int_equal(a->local_pref, 4294967295u);
	bgp_advert_free(a, NULL);
}

static void test_advert_rejects_with_field_named(void **state)
{
	(void)state;
	bad(bgp_advert_decode, "{'metadata':{'name':'a1'},'spec':7}", "spec");
	bad(bgp_advert_decode, ADV("'ipAddressPools':'lab'"), "spec.ipAddressPools");
	bad(bgp_advert_decode, ADV("'ipAddressPools':['lab',3]"), "spec.ipAddressPools[1]");
	bad(bgp_advert_decode, ADV("'ipAddressPools':['']"), "spec.ipAddressPools[0]");
	bad(bgp_advert_decode, ADV("'ipAddressPoolSelectors':[{'matchLabels':{'a':1}}]"),
	    "spec.ipAddressPoolSelectors[0]");
	bad(bgp_advert_decode, ADV("'nodeSelectors':7"), "spec.nodeSelectors");
	bad(bgp_advert_decode, ADV("'peers':{}"), "spec.peers");
	bad(bgp_advert_decode, ADV("'peers':['a',null]"), "spec.peers[1]");
	bad(bgp_advert_decode, ADV("'aggregationLength':33"), "spec.aggregationLength");
	bad(bgp_advert_decode, ADV("'aggregationLength':-1"), "spec.aggregationLength");
	bad(bgp_advert_decode, ADV("'aggregationLength':'24'"), "spec.aggregationLength");
	bad(bgp_advert_decode, ADV("'aggregationLengthV6':129"), "spec.aggregationLengthV6");
	bad(bgp_advert_decode, ADV("'aggregationLengthV6':64.0"), "spec.aggregationLengthV6");
	bad(bgp_advert_decode, ADV("'localPref':4294967296"), "spec.localPref");
	bad(bgp_advert_decode, ADV("'localPref':-1"), "spec.localPref");
	bad(bgp_advert_decode, ADV("'localPref':'100'"), "spec.localPref");
	bad(bgp_advert_decode, ADV("'communities':'65000:1'"), "spec.communities");
	bad(bgp_advert_decode, ADV("'communities':[1]"), "spec.communities[0]");
	bad(bgp_advert_decode, ADV("'communities':['1:1','2:2','65536:1']"),
	    "spec.communities[2]|65536");
	bad(bgp_advert_decode, ADV("'communities':['no-export']"),
	    "spec.communities[0]|Community aliases");
	bad(bgp_advert_decode, ADV("'communities':['large:1:2']"), "spec.communities[0]|large");
	bad(bgp_advert_decode, ADV("'communities':['large:4294967296:1:1']"),
	    "spec.communities[0]");
	bad(bgp_advert_decode, ADV("'communities':['1:2:3']"), "spec.communities[0]");
	bad(bgp_advert_decode, ADV("'communities':['-1:2']"), "spec.communities[0]");
	bad(bgp_advert_decode, ADV("'communities':[' 1:2']"), "spec.communities[0]");
	bad(bgp_advert_decode, ADV("'communities':['1:']"), "spec.communities[0]");
	bad(bgp_advert_decode, ADV("'communities':['']"), "spec.communities[0]");
}

static void test_community_parse_and_format(void **state)
{
	struct bgp_community c;
	const char *why = NULL;
	char buf[48];

	(void)state;
	assert_int_equal(bgp_community_parse("65535:65535", &c, &why), 0);
	assert_false(c.large);
	bgp_community_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "65535:65535");
	assert_int_equal(bgp_community_parse("large:4294967295:4294967295:4294967295", &c, &why),
			 0);
	assert_true(c.large);
	bgp_community_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "large:4294967295:4294967295:4294967295");
	assert_int_equal(bgp_community_parse("large:1:2:3:4", &c, &why), -EINVAL);
	assert_int_equal(bgp_community_parse("65000:99999999999999999999", &c, &why), -EINVAL);
	assert_int_equal(bgp_community_parse(NULL, &c, &why), -EINVAL);
	assert_non_null(why);
}

/* ---- BFDProfile ---- */

#define BFD(spec) "{'metadata':{'name':'fast'},'spec':{" spec "}}"

static void test_bfd_defaults_and_fields(void **state)
{
	struct bgp_bfd_profile *b = ok(bgp_bfd_decode, "{'metadata':{'name':'fast'}}");

	(void)state;
	assert_string_equal(b->name, "fast");
	assert_int_equal(b->rx_ms, 300);
	assert_int_equal(b->tx_ms, 300);
	assert_int_equal(b->multiplier, 3);
	assert_int_equal(b->echo_ms, 50);
	assert_int_equal(b->min_ttl, 254);
	assert_false(b->echo_mode);
	assert_false(b->passive);
	bgp_bfd_free(b, NULL);
	b = ok(bgp_bfd_decode,
	       BFD("'receiveInterval':10,'transmitInterval':60000,'detectMultiplier':255,"
		   "'echoInterval':10,'echoMode':true,'passiveMode':true,'minimumTtl':1"));
	assert_int_equal(b->rx_ms, 10);
	assert_int_equal(b->tx_ms, 60000);
	assert_int_equal(b->multiplier, 255);
	assert_int_equal(b->echo_ms, 10);
	assert_int_equal(b->min_ttl, 1);
	assert_true(b->echo_mode);
	assert_true(b->passive);
	bgp_bfd_free(b, NULL);
	b = ok(bgp_bfd_decode, BFD("'detectMultiplier':2,'echoInterval':60000,'minimumTtl':254"));
	assert_int_equal(b->multiplier, 2);
	assert_int_equal(b->echo_ms, 60000);
	bgp_bfd_free(b, NULL);
}

static void test_bfd_rejects_with_field_named(void **state)
{
	(void)state;
	bad(bgp_bfd_decode, "{'metadata':{'name':'fast'},'spec':'x'}", "spec");
	bad(bgp_bfd_decode, BFD("'receiveInterval':9"), "spec.receiveInterval");
	bad(bgp_bfd_decode, BFD("'receiveInterval':60001"), "spec.receiveInterval");
	bad(bgp_bfd_decode, BFD("'receiveInterval':'300'"), "spec.receiveInterval");
	bad(bgp_bfd_decode, BFD("'transmitInterval':9"), "spec.transmitInterval");
	bad(bgp_bfd_decode, BFD("'transmitInterval':1e3"), "spec.transmitInterval");
	bad(bgp_bfd_decode, BFD("'detectMultiplier':1"), "spec.detectMultiplier");
	bad(bgp_bfd_decode, BFD("'detectMultiplier':256"), "spec.detectMultiplier");
	bad(bgp_bfd_decode, BFD("'echoInterval':9"), "spec.echoInterval");
	bad(bgp_bfd_decode, BFD("'echoInterval':60001"), "spec.echoInterval");
	bad(bgp_bfd_decode, BFD("'minimumTtl':0"), "spec.minimumTtl");
	bad(bgp_bfd_decode, BFD("'minimumTtl':255"), "spec.minimumTtl");
	bad(bgp_bfd_decode, BFD("'echoMode':1"), "spec.echoMode|boolean");
	bad(bgp_bfd_decode, BFD("'passiveMode':'true'"), "spec.passiveMode|boolean");
}

/* ---- Secrets ---- */

#define SECRET_HEAD "{'metadata':{'name':'bgp-auth','namespace':'ironlb-system'}"
#define SECRET(rest) SECRET_HEAD rest "}"

static void test_secret_basic_auth_password(void **state)
{
	struct bgp_secret *s;
	void *item;
	const char *why;
	char buf[512];

	(void)state;
	s = ok(bgp_secret_decode,
	       SECRET(",'type':'kubernetes.io/basic-auth','data':{'password':'czNjciB0IQ=='}"));
	assert_string_equal(s->name, "bgp-auth");
	assert_string_equal(s->password, "s3cr t!");
	bgp_secret_free(s, NULL);
	/* Non-ASCII bytes are fine in a Secret ("caf\xc3\xa9"). */
	s = ok(bgp_secret_decode,
	       SECRET(",'type':'kubernetes.io/basic-auth','data':{'password':'Y2Fmw6k='}"));
	assert_string_equal(s->password, "caf\xc3\xa9");
	bgp_secret_free(s, NULL);
	/* 80 bytes: the longest TCP-MD5 key. */
	strcpy(buf, SECRET_HEAD ",'type':'kubernetes.io/basic-auth','data':{'password':'");
	for (int i = 0; i < 26; i++)
		strcat(buf, "YWFh");
	strcat(buf, "YWE='}}");
	s = ok(bgp_secret_decode, buf);
	assert_int_equal(strlen(s->password), 80);
	bgp_secret_free(s, NULL);

	assert_int_equal(decode(bgp_secret_decode, &ctx,
				SECRET(",'type':'Opaque','data':{'password':'eA=='}"), &item, &why),
			 INFORMER_SKIP);
	assert_null(item);
	assert_int_equal(
		decode(bgp_secret_decode, &ctx, SECRET(",'data':{'password':'eA=='}"), &item, &why),
		INFORMER_SKIP);
	assert_null(item);
}

static void test_secret_rejects_with_field_named(void **state)
{
	char buf[512];

	(void)state;
#define BA ",'type':'kubernetes.io/basic-auth'"
	bad(bgp_secret_decode, SECRET(",'type':5"), "type");
	bad(bgp_secret_decode, SECRET(BA), "data.password|missing");
	bad(bgp_secret_decode, SECRET(BA ",'data':{'username':'YQ=='}"), "data.password|missing");
	bad(bgp_secret_decode, SECRET(BA ",'data':[]"), "data");
	bad(bgp_secret_decode, SECRET(BA ",'data':{'password':7}"), "data.password|string");
	bad(bgp_secret_decode, SECRET(BA ",'data':{'password':'YQ'}"), "data.password|base64");
	bad(bgp_secret_decode, SECRET(BA ",'data':{'password':'Y Q=='}"), "data.password|base64");
	bad(bgp_secret_decode, SECRET(BA ",'data':{'password':'YR=='}"), "data.password|base64");
	bad(bgp_secret_decode, SECRET(BA ",'data':{'password':'Y!=='}"), "data.password|base64");
	bad(bgp_secret_decode, SECRET(BA ",'data':{'password':'YQ==YQ=='}"),
	    "data.password|base64");
	bad(bgp_secret_decode, SECRET(BA ",'data':{'password':''}"), "data.password");
	bad(bgp_secret_decode, SECRET(BA ",'data':{'password':'YQpi'}"), "data.password|NUL");
	bad(bgp_secret_decode, SECRET(BA ",'data':{'password':'YQBi'}"), "data.password|NUL");
	bad(bgp_secret_decode, SECRET(BA ",'data':{'password':'YSJi'}"), "data.password");
	bad(bgp_secret_decode, SECRET(BA ",'data':{'password':'YQli'}"), "data.password|control");
	strcpy(buf, SECRET_HEAD BA ",'data':{'password':'");
	for (int i = 0; i < 27; i++)
		strcat(buf, "YWFh");
	strcat(buf, "'}}");
	bad(bgp_secret_decode, buf, "data.password|80");
#undef BA
}

static void test_base64_strict(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "", "" },
		{ "YQ==", "a" },
		{ "YWI=", "ab" },
		{ "YWJj", "abc" },
		{ "+/+/", "\xfb\xff\xbf" },
	};
	static const char *badv[] = { "Y",    "YQ=",  "YQ===", "=QQQ",	 "YQ=a",
				      "YWJ=", "YQ\n", "-_-_",  "YQ==\n", "Y===" };
	char *out = (char *)0x1;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(bgp_base64_decode(good[i].in, &out, &len), 0);
		assert_int_equal(len, strlen(good[i].out));
		assert_memory_equal(out, good[i].out, len);
		free(out);
	}
	out = (char *)0x1;
	for (size_t i = 0; i < sizeof(badv) / sizeof(badv[0]); i++) {
		if (bgp_base64_decode(badv[i], &out, &len) != -EINVAL)
			fail_msg("\"%s\" accepted", badv[i]);
		assert_ptr_equal(out, (char *)0x1);
	}
}

static void test_free_functions_accept_null(void **state)
{
	(void)state;
	bgp_peer_free(NULL, NULL);
	bgp_advert_free(NULL, NULL);
	bgp_bfd_free(NULL, NULL);
	bgp_secret_free(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_accepts_go_forms_in_whole_seconds),
		cmocka_unit_test(test_duration_rejects_fractions_signs_garbage_and_overflow),
		cmocka_unit_test(test_peer_minimal_gets_metallb_defaults),
		cmocka_unit_test(test_peer_every_field),
		cmocka_unit_test(test_peer_required_fields_and_asn_ranges),
		cmocka_unit_test(test_peer_addresses_and_port),
		cmocka_unit_test(test_peer_hold_keepalive_and_connect_times),
		cmocka_unit_test(test_peer_node_selectors_bfd_multihop),
		cmocka_unit_test(test_peer_password_and_secret),
		cmocka_unit_test(test_advert_defaults),
		cmocka_unit_test(test_advert_every_field_and_communities_sorted_distinct),
		cmocka_unit_test(test_advert_rejects_with_field_named),
		cmocka_unit_test(test_community_parse_and_format),
		cmocka_unit_test(test_bfd_defaults_and_fields),
		cmocka_unit_test(test_bfd_rejects_with_field_named),
		cmocka_unit_test(test_secret_basic_auth_password),
		cmocka_unit_test(test_secret_rejects_with_field_named),
		cmocka_unit_test(test_base64_strict),
		cmocka_unit_test(test_free_functions_accept_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
