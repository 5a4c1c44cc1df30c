/* Unit tests for controller/bgp_report.c through a scripted API
 * transport: nothing is written before this replica leads; then one
 * status patch per object that needs one (invalid spec, missing
 * reference), none for an object whose conditions are already right, none
 * again when the write's echo (or any other change before it) arrives,
 * one when the object changes, none after leadership is lost.
 *
 * JSON in this file is written with single quotes; q() turns them into
 * double quotes.
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

#include <jansson.h>

#include "../../controller/bgp_report.h"
#include "ironlb/informer.h"
#include "ironlb/kube.h"
#include "ironlb/kube_event.h"
#include "ironlb/loop.h"

#define NS "ironlb-system"
#define API "/apis/ironlb.io/v1beta1/namespaces/" NS "/"

struct fake {
	struct kube_request *q[64];
	size_t n;
};

static int fake_start(struct kube_request *req, void *ctx)
{
	struct fake *f = ctx;

	assert_true(f->n < 64);
	f->q[f->n++] = req;
	return 0;
}

static void fake_stop(struct kube_request *req, void *ctx)
{
	struct fake *f = ctx;

	for (size_t i = 0; i < f->n; i++) {
		if (f->q[i] == req) {
			memmove(&f->q[i], &f->q[i + 1], (f->n - i - 1) * sizeof(f->q[0]));
			f->n--;
			return;
		}
	}
}

static const struct kube_transport_ops fake_ops = { fake_start, fake_stop, NULL };

struct env {
	struct loop *loop;
	struct fake fake;
	struct kube_client *c;
	struct informer *pools;
	struct kube_event_recorder *rec;
	struct bgp_report *r;
	struct kube_request *watch_peers;
};

static char *q(const char *text)
{
	char *s = strdup(text);

	assert_non_null(s);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

static void pump(struct env *e, int rounds)
{
	for (int i = 0; i < rounds; i++)
		loop_run_once(e->loop, 1);
}

/* Takes the first request whose method and path start as given, running
 * the loop for up to max_ms while none is there; NULL if none came. */
static struct kube_request *take_wait(struct env *e, const char *method, const char *prefix,
				      int max_ms)
{
	uint64_t end = loop_now_us() + (uint64_t)max_ms * 1000;

	while (true) {
		for (size_t i = 0; i < e->fake.n; i++) {
			struct kube_request *r = e->fake.q[i];

			if (strcmp(kube_request_method(r), method) == 0 &&
			    strncmp(kube_request_path(r), prefix, strlen(prefix)) == 0) {
				memmove(&e->fake.q[i], &e->fake.q[i + 1],
					(e->fake.n - i - 1) * sizeof(e->fake.q[0]));
				e->fake.n--;
				return r;
			}
		}
		if (loop_now_us() >= end)
			return NULL;
		loop_run_once(e->loop, 10);
	}
}

static struct kube_request *take(struct env *e, const char *method, const char *prefix)
{
	return take_wait(e, method, prefix, 500);
}

static size_t count(struct env *e, const char *method)
{
	size_t n = 0;

	pump(e, 5);
	for (size_t i = 0; i < e->fake.n; i++)
		if (strcmp(kube_request_method(e->fake.q[i]), method) == 0)
			n++;
	return n;
}

static void reply(struct kube_request *req, long code, const char *body)
{
	kube_transport_headers(req, code, 0, 2);
	if (body)
		kube_transport_data(req, body, strlen(body));
	kube_transport_end(req, 0, NULL);
}

/* Answers every Event request (created); returns how many there were. */
static int drain_events(struct env *e)
{
	struct kube_request *req;
	int n = 0;

	while ((req = take_wait(e, "POST", "/api/v1/namespaces/" NS "/events", 200)) ||
	       (req = take_wait(e, "PATCH", "/api/v1/namespaces/" NS "/events", 0))) {
		reply(req, 201, "{}");
		n++;
	}
	return n;
}

static void reply_q(struct kube_request *req, const char *text)
{
	char *s = q(text);

	reply(req, 200, s);
	free(s);
}

static void feed_q(struct kube_request *req, const char *text)
{
	char *s = q(text);

	assert_int_equal(kube_transport_data(req, s, strlen(s)), 0);
	free(s);
}

/* The status.conditions a PATCH sends (new reference). */
static json_t *patch_conditions(struct kube_request *req)
{
	size_t len;
	const char *body = kube_request_body(req, &len);
	json_error_t err;
	json_t *p = json_loadb(body, len, 0, &err), *c;

	assert_non_null(p);
	c = json_incref(json_object_get(json_object_get(p, "status"), "conditions"));
	json_decref(p);
	assert_true(json_is_array(c));
	return c;
}

static const char *cond_field(json_t *conds, const char *type, const char *key)
{
	json_t *c;
	size_t i;

	json_array_foreach (conds, i, c)
		if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
			return json_string_value(json_object_get(c, key));
	return NULL;
}

#define PEER_KA                                                                                    \
	"{'metadata':{'namespace':'" NS "','name':'ka','uid':'u1','resourceVersion':'%s',"         \
	"'generation':%d},'spec':{'myASN':1,'peerASN':2,'peerAddress':'192.0.2.1',"                \
	"'holdTime':'90s','keepaliveTime':'%s'}%s}"
#define PEER_GOOD                                                                                  \
	"{'metadata':{'namespace':'" NS "','name':'good','uid':'u2','resourceVersion':'3',"        \
	"'generation':1},'spec':{'myASN':1,'peerASN':2,'peerAddress':'192.0.2.2'},"                \
	"'status':{'conditions':[{'type':'Valid','status':'True','reason':'Valid','message':'',"   \
	"'observedGeneration':1,'lastTransitionTime':'2026-01-01T00:00:00Z'},"                     \
	"{'type':'References','status':'True','reason':'Resolved','message':'',"                   \
	"'observedGeneration':1,'lastTransitionTime':'2026-01-01T00:00:00Z'},"                     \
	"{'type':'Supported','status':'True','reason':'Supported','message':'',"                   \
	"'observedGeneration':1,'lastTransitionTime':'2026-01-01T00:00:00Z'}]}}"
#define ADVERT                                                                                     \
	"{'metadata':{'namespace':'" NS "','name':'adv','uid':'u3','resourceVersion':'4',"         \
	"'generation':1},'spec':{'peers':['good','ghost'],'ipAddressPools':['v4']}}"

static char *peer_ka(const char *rv, int gen, const char *ka, const char *status)
{
	char buf[2048];

	snprintf(buf, sizeof(buf), PEER_KA, rv, gen, ka, status);
	return strdup(buf);
}

/* Lists: pool v4; peers ka (invalid: keepalive 120s) and good (conditions
 * already right); advert adv (names a missing peer); no BFDProfile. */
static struct env *env_sync(void)
{
	struct env *e = calloc(1, sizeof(*e));
	struct kube_config cfg = { .server = "https://192.0.2.1:6443" };
	struct kube_event_opts eo = { .component = "ironlb-controller" };
	char *ka, list[4096];

	assert_non_null(e);
	e->loop = loop_new();
	e->c = kube_client_new_transport(e->loop, &cfg, NULL, &fake_ops, &e->fake);
	e->pools = informer_new(e->c, e->loop,
				&(struct informer_opts){ .res = &KUBE_IPADDRESSPOOLS, .ns = NS });
	e->rec = kube_event_recorder_new(e->c, e->loop, &eo);
	e->r = bgp_report_new(e->loop, e->c, NULL, e->rec, NS, e->pools);
	assert_non_null(e->r);
	assert_int_equal(informer_start(e->pools), 0);
	assert_int_equal(bgp_report_start(e->r), 0);

	reply_q(take(e, "GET", API "ipaddresspools?limit"),
		"{'metadata':{'resourceVersion':'10'},'items':[{'metadata':{'namespace':'" NS
		"','name':'v4','resourceVersion':'1'},'spec':{'addresses':['198.51.100.0/24']}}]}");
	ka = peer_ka("2", 1, "120s", "");
	snprintf(list, sizeof(list), "{'metadata':{'resourceVersion':'10'},'items':[%s,%s]}", ka,
		 PEER_GOOD);
	free(ka);
	reply_q(take(e, "GET", API "bgppeers?limit"), list);
	reply_q(take(e, "GET", API "bgpadvertisements?limit"),
		"{'metadata':{'resourceVersion':'10'},'items':[" ADVERT "]}");
	reply_q(take(e, "GET", API "bfdprofiles?limit"),
		"{'metadata':{'resourceVersion':'10'},'items':[]}");
	e->watch_peers = take(e, "GET", API "bgppeers?watch=1");
	assert_non_null(e->watch_peers);
	kube_transport_headers(e->watch_peers, 200, 0, 2);
	assert_true(bgp_report_synced(e->r));
	return e;
}

static void env_free(struct env *e)
{
	bgp_report_free(e->r);
	informer_free(e->pools);
	kube_event_recorder_free(e->rec);
	kube_client_free(e->c);
	loop_free(e->loop);
	free(e);
}

static void test_writes_what_differs_once_and_only_when_leading(void **state)
{
	struct env *e = env_sync();
	struct kube_request *ka_req, *adv_req;
	json_t *ka_conds, *adv_conds;
	char *obj, *ev, status[2048], *dump;

	(void)state;
	/* A follower judges nothing and writes nothing. */
	assert_int_equal(count(e, "PATCH"), 0);

	bgp_report_set_leading(e->r, true);
	ka_req = take(e, "PATCH", API "bgppeers/ka/status");
	adv_req = take(e, "PATCH", API "bgpadvertisements/adv/status");
	assert_non_null(ka_req);
	assert_non_null(adv_req);
	assert_string_equal(kube_request_content_type(ka_req), "application/merge-patch+json");
	/* good already carries the right conditions: not rewritten. */
	assert_int_equal(count(e, "PATCH"), 0);

	ka_conds = patch_conditions(ka_req);
	assert_string_equal(cond_field(ka_conds, "Valid", "status"), "False");
	assert_string_equal(cond_field(ka_conds, "Valid", "reason"), "InvalidSpec");
	assert_string_equal(cond_field(ka_conds, "Valid", "message"),
			    "spec.keepaliveTime: 120s is above holdTime 90s");
	assert_null(cond_field(ka_conds, "References", "status"));
	adv_conds = patch_conditions(adv_req);
	assert_string_equal(cond_field(adv_conds, "Valid", "status"), "True");
	assert_string_equal(cond_field(adv_conds, "References", "message"),
			    "spec.peers[1]: BGPPeer \"ghost\" not found");
	/* Warning Events on both. */
	assert_non_null(take(e, "POST", "/api/v1/namespaces/" NS "/events"));
	assert_non_null(take(e, "POST", "/api/v1/namespaces/" NS "/events"));
	reply(ka_req, 200, "{}");
	reply(adv_req, 200, "{}");

	/* A change that reaches the cache before the echo: nothing again. */
	obj = peer_ka("20", 1, "120s", "");
	ev = malloc(strlen(obj) + 64);
	sprintf(ev, "{'type':'MODIFIED','object':%s}\n", obj);
	feed_q(e->watch_peers, ev);
	free(obj);
	free(ev);
	assert_int_equal(count(e, "PATCH"), 0);

	/* The echo: what was written. Nothing. */
	dump = json_dumps(ka_conds, JSON_COMPACT);
	snprintf(status, sizeof(status), ",\"status\":{\"conditions\":%s}", dump);
	free(dump);
	obj = peer_ka("21", 1, "120s", status);
	ev = malloc(strlen(obj) + 64);
	sprintf(ev, "{'type':'MODIFIED','object':%s}\n", obj);
	free(obj);
	feed_q(e->watch_peers, ev);
	free(ev);
	assert_int_equal(count(e, "PATCH"), 0);

	/* Fixed (generation 2): written once, Valid True, with the new
	 * generation, References and Supported. */
	obj = peer_ka("22", 2, "30s", status);
	ev = malloc(strlen(obj) + 64);
	sprintf(ev, "{'type':'MODIFIED','object':%s}\n", obj);
	free(obj);
	feed_q(e->watch_peers, ev);
	free(ev);
	ka_req = take(e, "PATCH", API "bgppeers/ka/status");
	assert_non_null(ka_req);
	json_decref(ka_conds);
	ka_conds = patch_conditions(ka_req);
	assert_string_equal(cond_field(ka_conds, "Valid", "status"), "True");
	assert_string_equal(cond_field(ka_conds, "Supported", "status"), "True");
	assert_int_equal(count(e, "PATCH"), 0);

	/* Leadership lost: the write in flight is dropped, and a change
	 * afterwards is not written. */
	bgp_report_set_leading(e->r, false);
	assert_int_equal(count(e, "PATCH"), 0);
	obj = peer_ka("23", 3, "200s", status);
	ev = malloc(strlen(obj) + 64);
	sprintf(ev, "{'type':'MODIFIED','object':%s}\n", obj);
	free(obj);
	feed_q(e->watch_peers, ev);
	free(ev);
	assert_int_equal(count(e, "PATCH"), 0);

	json_decref(ka_conds);
	json_decref(adv_conds);
	env_free(e);
}

static void test_deleted_peer_makes_the_advert_say_so(void **state)
{
	struct env *e = env_sync();
	struct kube_request *req;
	json_t *conds;

	(void)state;
	bgp_report_set_leading(e->r, true);
	reply(take(e, "PATCH", API "bgppeers/ka/status"), 200, "{}");
	reply(take(e, "PATCH", API "bgpadvertisements/adv/status"), 200, "{}");
	assert_int_equal(drain_events(e), 2);
	/* good goes away: adv now names two missing peers. */
	feed_q(e->watch_peers, "{'type':'DELETED','object':" PEER_GOOD "}\n");
	req = take(e, "PATCH", API "bgpadvertisements/adv/status");
	assert_non_null(req);
	conds = patch_conditions(req);
	assert_string_equal(cond_field(conds, "References", "message"),
			    "spec.peers[0]: BGPPeer \"good\" not found; spec.peers[1]: BGPPeer "
			    "\"ghost\" not found");
	json_decref(conds);
	/* A failed write (500) is tried again after a while. */
	assert_int_equal(drain_events(e), 1);
	reply(req, 500, "{\"kind\":\"Status\",\"code\":500}");
	assert_int_equal(count(e, "PATCH"), 0);
	req = take_wait(e, "PATCH", API "bgpadvertisements/adv/status", 5000);
	assert_non_null(req);
	/* ... without a second Event for the same problem. */
	assert_int_equal(drain_events(e), 0);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writes_what_differs_once_and_only_when_leading),
		cmocka_unit_test(test_deleted_peer_makes_the_advert_say_so),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
