/* Unit tests for controller/service.c: decoding a core/v1 Service into the
 * allocator's compact struct, the interpretation of requests (spec field,
 * ironlb.io/ annotations and their MetalLB forms), errors that name the
 * field for every wrong type, status ingress comparison and building, and
 * timestamps.
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

#include "../../controller/service.h"

static json_t *j(const char *text)
{
	char *buf = strdup(text);
	json_error_t e;
	json_t *v;

	assert_non_null(buf);
	for (char *p = buf; *p; p++)
		if (*p == '\'')
			*p = '"';
	v = json_loads(buf, JSON_DECODE_ANY, &e);
	if (!v)
		fail_msg("bad test JSON %s: %s", buf, e.text);
	free(buf);
	return v;
}

/* A LoadBalancer Service: spec members and annotations are spliced in. */
static json_t *lb(const char *spec_extra, const char *annots)
{
	char buf[4096];

	snprintf(buf, sizeof(buf),
		 "{'metadata':{'namespace':'web','name':'front','uid':'u-1',"
		 "'creationTimestamp':'2024-03-01T10:00:00Z','annotations':{%s}},"
		 "'spec':{'type':'LoadBalancer','ports':[{'port':80,'protocol':'TCP'}]%s%s}}",
		 annots ? annots : "", spec_extra && *spec_extra ? "," : "",
		 spec_extra ? spec_extra : "");
	return j(buf);
}

static struct service *decode(json_t *v)
{
	struct service *s = NULL;
	char err[SERVICE_ERR_MAX] = "";

	if (service_from_json(v, &s, err, sizeof(err)) != 0)
		fail_msg("decode failed: %s", err);
	json_decref(v);
	return s;
}

static void rejects(json_t *v, const char *want)
{
	struct service *s = (struct service *)0x1;
	char err[SERVICE_ERR_MAX] = "";

	assert_int_equal(service_from_json(v, &s, err, sizeof(err)), -EINVAL);
	assert_ptr_equal(s, (struct service *)0x1);
	if (strcmp(err, want) != 0)
		fail_msg("error \"%s\", want \"%s\"", err, want);
	json_decref(v);
}

static struct ip_addr ip(const char *s)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(s, &a, NULL), 0);
	return a;
}

static void test_service_decodes_loadbalancer_fields(void **state)
{
	struct service *s = decode(
		lb("'loadBalancerClass':'ironlb.io/lb','ipFamilies':['IPv6','IPv4'],"
		   "'ipFamilyPolicy':'PreferDualStack','externalTrafficPolicy':'Local',"
		   "'selector':{'app':'web'},'ports':[{'port':80},{'port':53,'protocol':'UDP'}],"
		   "'externalIPs':['198.51.100.9','not-an-ip']",
		   "'ironlb.io/allow-shared-ip':'k1'"));

	assert_string_equal(s->namespace, "web");
	assert_string_equal(s->name, "front");
	assert_string_equal(s->uid, "u-1");
	assert_int_equal(s->created, 1709287200);
	assert_int_equal(s->type, SERVICE_LOAD_BALANCER);
	assert_string_equal(s->lb_class, "ironlb.io/lb");
	assert_int_equal(s->nfamilies, 2);
	assert_int_equal(s->families[0], AF_INET6);
	assert_int_equal(s->families[1], AF_INET);
	assert_int_equal(s->family_policy, SERVICE_PREFER_DUAL_STACK);
	assert_true(s->etp_local);
	assert_int_equal(s->nports, 2);
	assert_int_equal(s->ports[0].port, 80);
	assert_int_equal(s->ports[0].protocol, SERVICE_TCP);
	assert_int_equal(s->ports[1].port, 53);
	assert_int_equal(s->ports[1].protocol, SERVICE_UDP);
	assert_int_equal(s->nexternal, 2);
	{
		struct ip_addr want = ip("198.51.100.9");

		assert_true(ip_equal(&s->external[0].addr, &want));
	}
	assert_int_equal(s->external[1].addr.family, 0);
	assert_string_equal(s->sharing_key, "k1");
	assert_int_equal(s->deprecated, 0);
	assert_int_equal(s->req.naddrs, 0);
	assert_null(s->req.error);
	assert_null(s->req.pool);
	assert_int_equal(s->labels->n, 0);
	service_free(s);
}

static void test_service_defaults_for_absent_fields(void **state)
{
	struct service *s =
		decode(j("{'metadata':{'namespace':'a','name':'b','labels':{'x':'y'}}}"));

	assert_int_equal(s->type, SERVICE_CLUSTER_IP);
	assert_int_equal(s->created, SERVICE_TIME_UNKNOWN);
	assert_null(s->uid);
	assert_null(s->lb_class);
	assert_int_equal(s->nfamilies, 0);
	assert_int_equal(s->family_policy, SERVICE_POLICY_UNSET);
	assert_false(s->etp_local);
	assert_int_equal(s->nports, 0);
	assert_int_equal(s->ningress, 0);
	assert_string_equal(labels_get(s->labels, "x"), "y");
	service_free(s);
	/* JSON nulls count as absent, and the protocol defaults to TCP. */
	s = decode(
		j("{'metadata':{'namespace':'a','name':'b','annotations':null},'spec':{'type':"
		  "null,'ports':[{'port':1,'protocol':null}],'externalIPs':null},'status':null}"));
	assert_int_equal(s->type, SERVICE_CLUSTER_IP);
	assert_int_equal(s->ports[0].protocol, SERVICE_TCP);
	service_free(s);
}

static void test_service_types(void **state)
{
	static const struct {
		const char *t;
		int want;
	} cases[] = {
		{ "ClusterIP", SERVICE_CLUSTER_IP },
		{ "NodePort", SERVICE_NODE_PORT },
		{ "LoadBalancer", SERVICE_LOAD_BALANCER },
		{ "ExternalName", SERVICE_EXTERNAL_NAME },
	};

	for (size_t i = 0; i < 4; i++) {
		char buf[256];
		struct service *s;

		snprintf(buf, sizeof(buf),
			 "{'metadata':{'namespace':'a','name':'b'},'spec':{'type':'%s'}}",
			 cases[i].t);
		s = decode(j(buf));
		assert_int_equal(s->type, cases[i].want);
		service_free(s);
	}
}

static void test_service_wrong_types_name_the_field(void **state)
{
	rejects(j("[]"), "not an object");
	rejects(j("{}"), "metadata: missing");
	rejects(j("{'metadata':[]}"), "metadata: not an object");
	rejects(j("{'metadata':{'namespace':'a'}}"), "metadata.name: missing");
	rejects(j("{'metadata':{'namespace':'a','name':7}}"), "metadata.name: not a string");
	rejects(j("{'metadata':{'name':'b'}}"), "metadata.namespace: missing");
	rejects(j("{'metadata':{'namespace':'a','name':'b','uid':1}}"),
		"metadata.uid: not a string");
	rejects(j("{'metadata':{'namespace':'a','name':'b','creationTimestamp':'yesterday'}}"),
		"metadata.creationTimestamp: \"yesterday\" is not an RFC 3339 time");
	rejects(j("{'metadata':{'namespace':'a','name':'b','labels':{'x':1}}}"),
		"metadata.labels.x: not a string");
	rejects(j("{'metadata':{'namespace':'a','name':'b','annotations':'x'}}"),
		"metadata.annotations: not an object");
	rejects(lb("", "'metallb.io/address-pool':true"),
		"metadata.annotations.metallb.io/address-pool: not a string");
	rejects(j("{'metadata':{'namespace':'a','name':'b'},'spec':5}"), "spec: not an object");
	rejects(lb("'type':'Cloud'", NULL), "spec.type: \"Cloud\" is not a Service type");
	rejects(lb("'loadBalancerClass':1", NULL), "spec.loadBalancerClass: not a string");
	rejects(lb("'ipFamilies':'IPv4'", NULL), "spec.ipFamilies: not an array");
	rejects(lb("'ipFamilies':['IPv4','IPv5']", NULL),
		"spec.ipFamilies[1]: \"IPv5\" is not IPv4 or IPv6");
	rejects(lb("'ipFamilies':['IPv4',4]", NULL), "spec.ipFamilies[1]: not a string");
	rejects(lb("'ipFamilies':['IPv4','IPv4']", NULL), "spec.ipFamilies[1]: duplicate family");
	rejects(lb("'ipFamilies':['IPv4','IPv6','IPv4']", NULL),
		"spec.ipFamilies: more than two families");
	rejects(lb("'ipFamilyPolicy':'Dual'", NULL),
		"spec.ipFamilyPolicy: \"Dual\" is not SingleStack, PreferDualStack or "
		"RequireDualStack");
	rejects(lb("'loadBalancerIP':[]", NULL), "spec.loadBalancerIP: not a string");
	rejects(lb("'externalTrafficPolicy':'Nearby'", NULL),
		"spec.externalTrafficPolicy: \"Nearby\" is not Cluster or Local");
	rejects(lb("'selector':[]", NULL), "spec.selector: not an object");
	rejects(lb("'ports':{}", NULL), "spec.ports: not an array");
	rejects(lb("'ports':[{'port':80},'x']", NULL), "spec.ports[1]: not an object");
	rejects(lb("'ports':[{'port':80},{'port':'80'}]", NULL),
		"spec.ports[1].port: not an integer");
	rejects(lb("'ports':[{'protocol':'TCP'}]", NULL), "spec.ports[0].port: missing");
	rejects(lb("'ports':[{'port':70000}]", NULL),
		"spec.ports[0].port: 70000 out of range 1-65535");
	rejects(lb("'ports':[{'port':1,'protocol':'ICMP'}]", NULL),
		"spec.ports[0].protocol: \"ICMP\" is not TCP, UDP or SCTP");
	rejects(lb("'externalIPs':['198.51.100.1',2]", NULL), "spec.externalIPs[1]: not a string");
	rejects(j("{'metadata':{'namespace':'a','name':'b'},'status':{'loadBalancer':{'ingress':"
		  "[{'ip':'198.51.100.1'},3]}}}"),
		"status.loadBalancer.ingress[1]: not an object");
	rejects(j("{'metadata':{'namespace':'a','name':'b'},'status':{'loadBalancer':{'ingress':"
		  "[{'ip':4}]}}}"),
		"status.loadBalancer.ingress[0].ip: not a string");
	rejects(j("{'metadata':{'namespace':'a','name':'b'},'status':{'loadBalancer':[]}}"),
		"status.loadBalancer: not an object");
}

static void test_service_request_spec_loadbalancerip(void **state)
{
	struct service *s = decode(lb("'loadBalancerIP':'198.51.100.7'", NULL));

	assert_int_equal(s->req.naddrs, 1);
	{
		struct ip_addr want = ip("198.51.100.7");

		assert_true(ip_equal(&s->req.addrs[0], &want));
	}
	assert_string_equal(s->req.addrs_from, "spec.loadBalancerIP");
	assert_null(s->req.error);
	service_free(s);
	/* An empty loadBalancerIP is no request. */
	s = decode(lb("'loadBalancerIP':''", NULL));
	assert_int_equal(s->req.naddrs, 0);
	assert_null(s->req.error);
	service_free(s);
	s = decode(lb("'loadBalancerIP':'198.51.100.300'", NULL));
	assert_int_equal(s->req.naddrs, 0);
	assert_string_equal(s->req.error,
			    "spec.loadBalancerIP: \"198.51.100.300\": IPv4 octet out of range");
	service_free(s);
}

static void test_service_request_annotation_list(void **state)
{
	struct service *s =
		decode(lb(NULL, "'ironlb.io/loadBalancerIPs':'198.51.100.7, 2001:db8::7'"));
	struct ip_addr a4 = ip("198.51.100.7"), a6 = ip("2001:db8::7");

	assert_int_equal(s->req.naddrs, 2);
	assert_true(ip_equal(&s->req.addrs[0], &a4));
	assert_true(ip_equal(&s->req.addrs[1], &a6));
	assert_string_equal(s->req.addrs_from, "ironlb.io/loadBalancerIPs");
	assert_int_equal(s->deprecated, 0);
	service_free(s);
}

static void request_error(const char *annots, const char *spec, const char *want)
{
	struct service *s = decode(lb(spec, annots));

	if (!s->req.error || strcmp(s->req.error, want) != 0)
		fail_msg("request error \"%s\", want \"%s\"",
			 s->req.error ? s->req.error : "(none)", want);
	assert_int_equal(s->req.naddrs, 0);
	service_free(s);
}

static void test_service_request_errors(void **state)
{
	request_error("'ironlb.io/loadBalancerIPs':'198.51.100.7'",
		      "'loadBalancerIP':'198.51.100.7'",
		      "spec.loadBalancerIP and ironlb.io/loadBalancerIPs are both set; use only "
		      "ironlb.io/loadBalancerIPs");
	request_error(
		"'metallb.universe.tf/loadBalancerIPs':'198.51.100.7'",
		"'loadBalancerIP':'198.51.100.8'",
		"spec.loadBalancerIP and metallb.universe.tf/loadBalancerIPs are both set; use "
		"only ironlb.io/loadBalancerIPs");
	request_error(
		"'ironlb.io/loadBalancerIPs':'198.51.100.7,198.51.100.8'", NULL,
		"ironlb.io/loadBalancerIPs: \"198.51.100.7,198.51.100.8\": two IPv4 addresses; "
		"at most one per family");
	request_error(
		"'ironlb.io/loadBalancerIPs':'198.51.100.7,2001:db8::1,198.51.100.8'", NULL,
		"ironlb.io/loadBalancerIPs: \"198.51.100.7,2001:db8::1,198.51.100.8\": more than "
		"two addresses");
	request_error("'ironlb.io/loadBalancerIPs':'198.51.100.7,,2001:db8::1'", NULL,
		      "ironlb.io/loadBalancerIPs: \"198.51.100.7,,2001:db8::1\": empty entry");
	request_error(
		"'ironlb.io/loadBalancerIPs':'198.51.100.0/24'", NULL,
		"ironlb.io/loadBalancerIPs: \"198.51.100.0/24\": prefix length not allowed here");
}

static void test_service_metallb_annotation_forms_work_and_are_flagged(void **state)
{
	struct service *s = decode(lb(NULL, "'metallb.io/loadBalancerIPs':'198.51.100.7',"
					    "'metallb.universe.tf/address-pool':'gold',"
					    "'metallb.universe.tf/allow-shared-ip':'k'"));

	assert_int_equal(s->req.naddrs, 1);
	assert_string_equal(s->req.pool, "gold");
	assert_string_equal(s->sharing_key, "k");
	assert_int_equal(s->deprecated, SERVICE_DEPRECATED_LB_IPS | SERVICE_DEPRECATED_POOL |
						SERVICE_DEPRECATED_SHARED);
	assert_string_equal(service_deprecated_key(s, SERVICE_DEPRECATED_LB_IPS),
			    "metallb.io/loadBalancerIPs");
	assert_string_equal(service_deprecated_key(s, SERVICE_DEPRECATED_POOL),
			    "metallb.universe.tf/address-pool");
	assert_string_equal(service_deprecated_key(s, SERVICE_DEPRECATED_SHARED),
			    "metallb.universe.tf/allow-shared-ip");
	service_free(s);
}

static void test_service_ironlb_annotation_takes_precedence(void **state)
{
	struct service *s =
		decode(lb(NULL, "'metallb.io/address-pool':'old',"
				"'ironlb.io/address-pool':'new','metallb.io/allow-shared-ip':'',"
				"'ironlb.io/allow-shared-ip':''"));

	assert_string_equal(s->req.pool, "new");
	assert_string_equal(s->req.pool_from, "ironlb.io/address-pool");
	assert_int_equal(s->deprecated, 0);
	assert_null(service_deprecated_key(s, SERVICE_DEPRECATED_POOL));
	/* Empty annotations are no request. */
	assert_null(s->sharing_key);
	service_free(s);
}

static void test_service_selector_hash_ignores_order(void **state)
{
	struct service *a = decode(lb("'selector':{'app':'web','tier':'f'}", NULL));
	struct service *b = decode(lb("'selector':{'tier':'f','app':'web'}", NULL));
	struct service *c = decode(lb("'selector':{'app':'db','tier':'f'}", NULL));

	assert_true(a->selector_hash == b->selector_hash);
	assert_true(a->selector_hash != c->selector_hash);
	service_free(a);
	service_free(b);
	service_free(c);
}

static void test_service_status_ingress_decoded_and_compared(void **state)
{
	struct service *s = decode(
		j("{'metadata':{'namespace':'a','name':'b'},'spec':{'type':'LoadBalancer'},"
		  "'status':{'loadBalancer':{'ingress':[{'ip':'198.51.100.1','ipMode':'VIP'},"
		  "{'ip':'2001:db8::1','ipMode':'VIP'}]}}}"));
	struct ip_addr want[2] = { ip("198.51.100.1"), ip("2001:db8::1") };
	struct ip_addr other[2] = { ip("2001:db8::1"), ip("198.51.100.1") };

	assert_int_equal(s->ningress, 2);
	assert_true(service_ingress_equal(s, want, 2, SERVICE_IP_MODE_VIP));
	assert_false(service_ingress_equal(s, want, 2, SERVICE_IP_MODE_PROXY));
	assert_false(service_ingress_equal(s, want, 2, SERVICE_IP_MODE_NONE));
	assert_false(service_ingress_equal(s, other, 2, SERVICE_IP_MODE_VIP));
	assert_false(service_ingress_equal(s, want, 1, SERVICE_IP_MODE_VIP));
	service_free(s);

	s = decode(j("{'metadata':{'namespace':'a','name':'b'},'status':{'loadBalancer':{'ingress':"
		     "[{'hostname':'lb.example'},{'ip':'bogus'},{'ip':'198.51.100.1','ipMode':'Odd'"
		     "}]}}}"));
	assert_int_equal(s->ningress, 3);
	assert_true(s->ingress[0].foreign);
	assert_true(s->ingress[1].foreign);
	assert_int_equal(s->ingress[1].addr.family, 0);
	assert_false(s->ingress[2].foreign);
	assert_int_equal(s->ingress[2].ip_mode, SERVICE_IP_MODE_OTHER);
	service_free(s);

	s = decode(j("{'metadata':{'namespace':'a','name':'b'}}"));
	assert_true(service_ingress_equal(s, NULL, 0, SERVICE_IP_MODE_VIP));
	service_free(s);
}

static void test_service_ingress_json_round_trips(void **state)
{
	struct ip_addr addrs[2] = { ip("2001:db8::5"), ip("198.51.100.5") };
	json_t *lbst = service_ingress_json(addrs, 2, SERVICE_IP_MODE_PROXY);
	json_t *obj = j("{'metadata':{'namespace':'a','name':'b'},'status':{}}");
	char *text = json_dumps(lbst, JSON_SORT_KEYS | JSON_COMPACT);
	struct service *s;

	assert_string_equal(text, "{\"ingress\":[{\"ip\":\"2001:db8::5\",\"ipMode\":\"Proxy\"},"
				  "{\"ip\":\"198.51.100.5\",\"ipMode\":\"Proxy\"}]}");
	free(text);
	json_object_set(json_object_get(obj, "status"), "loadBalancer", lbst);
	s = decode(obj);
	assert_true(service_ingress_equal(s, addrs, 2, SERVICE_IP_MODE_PROXY));
	service_free(s);
	json_decref(lbst);

	lbst = service_ingress_json(NULL, 0, SERVICE_IP_MODE_VIP);
	text = json_dumps(lbst, JSON_COMPACT);
	assert_string_equal(text, "{}");
	free(text);
	json_decref(lbst);
	lbst = service_ingress_json(addrs, 1, SERVICE_IP_MODE_NONE);
	text = json_dumps(lbst, JSON_COMPACT);
	assert_string_equal(text, "{\"ingress\":[{\"ip\":\"2001:db8::5\"}]}");
	free(text);
	json_decref(lbst);
}

static void test_service_parse_time(void **state)
{
	int64_t t = 0;

	assert_int_equal(service_parse_time("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(service_parse_time("2024-02-29T23:59:59Z", &t), 0);
	assert_int_equal(t, 1709251199);
	assert_int_equal(service_parse_time("2024-03-01T10:00:00.123456Z", &t), 0);
	assert_int_equal(t, 1709287200);
	assert_int_equal(service_parse_time("1969-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t, -1);
	t = 42;
	assert_int_equal(service_parse_time("2023-02-29T00:00:00Z", &t), -EINVAL);
	assert_int_equal(service_parse_time("2024-13-01T00:00:00Z", &t), -EINVAL);
	assert_int_equal(service_parse_time("2024-01-01T24:00:00Z", &t), -EINVAL);
	assert_int_equal(service_parse_time("2024-01-01T00:00:00", &t), -EINVAL);
	assert_int_equal(service_parse_time("2024-01-01T00:00:00+01:00", &t), -EINVAL);
	assert_int_equal(service_parse_time("2024-01-01 00:00:00Z", &t), -EINVAL);
	assert_int_equal(service_parse_time("2024-01-01T00:00:00.Z", &t), -EINVAL);
	assert_int_equal(service_parse_time("2024-01-01T00:00:00Zx", &t), -EINVAL);
	assert_int_equal(service_parse_time("", &t), -EINVAL);
	assert_int_equal(service_parse_time(NULL, &t), -EINVAL);
	assert_int_equal(t, 42);
}

static void test_service_age_order(void **state)
{
	struct service *a = decode(j("{'metadata':{'namespace':'b','name':'x','creationTimestamp':"
				     "'2024-01-01T00:00:00Z'}}"));
	struct service *b = decode(j("{'metadata':{'namespace':'a','name':'y','creationTimestamp':"
				     "'2024-01-01T00:00:01Z'}}"));
	struct service *c = decode(j("{'metadata':{'namespace':'a','name':'z','creationTimestamp':"
				     "'2024-01-01T00:00:01Z'}}"));
	struct service *d = decode(j("{'metadata':{'namespace':'a','name':'a'}}"));

	assert_true(service_cmp_age(a, b) < 0);
	assert_true(service_cmp_age(b, c) < 0);
	assert_true(service_cmp_age(c, b) > 0);
	assert_true(service_cmp_age(c, d) < 0); /* unknown time sorts last */
	assert_int_equal(service_cmp_age(a, a), 0);
	service_free(a);
	service_free(b);
	service_free(c);
	service_free(d);
}

/* Replaces every value in a valid Service, one at a time, by values of
 * every JSON type: decoding must fail cleanly or succeed, never crash or
 * leak (ASan and LSan watch). */
static void mutate_all(json_t *root, json_t *node)
{
	json_t *kinds[] = { json_null(),      json_true(),  json_integer(-1), json_real(1.5),
			    json_string("x"), json_array(), json_object() };
	const size_t nk = sizeof(kinds) / sizeof(kinds[0]);

	if (json_is_object(node)) {
		const char *key;
		json_t *v;
		void *tmp;

		json_object_foreach_safe (node, tmp, key, v) {
			json_t *saved = json_incref(v);

			for (size_t k = 0; k < nk; k++) {
				struct service *s = NULL;
				char err[SERVICE_ERR_MAX];

				json_object_set(node, key, kinds[k]);
				if (service_from_json(root, &s, err, sizeof(err)) == 0)
					service_free(s);
			}
			json_object_set(node, key, saved);
			json_decref(saved);
			mutate_all(root, v);
		}
	} else if (json_is_array(node)) {
		for (size_t i = 0; i < json_array_size(node); i++) {
			json_t *saved = json_incref(json_array_get(node, i));

			for (size_t k = 0; k < nk; k++) {
				struct service *s = NULL;

				json_array_set(node, i, kinds[k]);
				if (service_from_json(root, &s, NULL, 0) == 0)
					service_free(s);
			}
			json_array_set(node, i, saved);
			json_decref(saved);
			mutate_all(root, json_array_get(node, i));
		}
	}
	for (size_t k = 0; k < nk; k++)
		json_decref(kinds[k]);
}

static void test_service_hostile_values_never_crash(void **state)
{
	json_t *v = j(
		"{'metadata':{'namespace':'a','name':'b','uid':'u','creationTimestamp':"
		"'2024-01-01T00:00:00Z','labels':{'l':'v'},'annotations':{"
		"'ironlb.io/loadBalancerIPs':'198.51.100.1','ironlb.io/address-pool':'p',"
		"'ironlb.io/allow-shared-ip':'k'}},'spec':{'type':'LoadBalancer',"
		"'loadBalancerClass':'c','ipFamilies':['IPv4'],'ipFamilyPolicy':'SingleStack',"
		"'loadBalancerIP':'198.51.100.2','externalTrafficPolicy':'Local','selector':"
		"{'a':'b'},'ports':[{'port':80,'protocol':'TCP'}],'externalIPs':['198.51.100.3']},"
		"'status':{'loadBalancer':{'ingress':[{'ip':'198.51.100.1','ipMode':'VIP',"
		"'hostname':'h'}]}}}");

	mutate_all(v, v);
	json_decref(v);
}

/* service_dup: a deep copy, equal field by field, sharing no memory. */
static void test_service_dup_is_deep_and_equal(void **state)
{
	struct service *s = decode(
		j("{'metadata':{'namespace':'web','name':'front','uid':'u-1',"
		  "'creationTimestamp':'2024-03-01T10:00:00Z','labels':{'app':'a','tier':'t'},"
		  "'annotations':{'ironlb.io/address-pool':'p','metallb.io/allow-shared-ip':'k',"
		  "'ironlb.io/loadBalancerIPs':'198.51.100.7'}},"
		  "'spec':{'type':'LoadBalancer','loadBalancerClass':'ironlb.io/lb',"
		  "'externalIPs':['203.0.113.5','x'],"
		  "'ports':[{'port':80,'protocol':'TCP'},{'port':53,'protocol':'UDP'}]},"
		  "'status':{'loadBalancer':{'ingress':[{'ip':'198.51.100.7','ipMode':'VIP'}]}}}"));
	struct service *c = service_dup(s);
	struct ip_addr a = ip("198.51.100.7");

	assert_non_null(c);
	service_free(s); /* the copy must not depend on the original */
	assert_string_equal(c->namespace, "web");
	assert_string_equal(c->name, "front");
	assert_string_equal(c->uid, "u-1");
	assert_string_equal(c->lb_class, "ironlb.io/lb");
	assert_string_equal(c->sharing_key, "k");
	assert_string_equal(c->req.pool, "p");
	assert_int_equal(c->req.naddrs, 1);
	assert_int_equal(c->nports, 2);
	assert_int_equal(c->ports[1].port, 53);
	assert_int_equal(c->nexternal, 2);
	assert_int_equal(c->labels->n, 2);
	assert_string_equal(labels_get(c->labels, "tier"), "t");
	assert_string_equal(labels_get(c->labels, "app"), "a");
	assert_true(service_ingress_equal(c, &a, 1, SERVICE_IP_MODE_VIP));
	service_free(c);

	/* service_ref: one more holder; each frees once. */
	s = decode(j("{'metadata':{'namespace':'a','name':'b'}}"));
	assert_ptr_equal(service_ref(s), s);
	service_free(s);
	assert_string_equal(s->name, "b");
	c = service_dup(s);
	assert_non_null(c);
	assert_null(c->uid);
	assert_int_equal(c->labels->n, 0);
	service_free(s);
	service_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_decodes_loadbalancer_fields),
		cmocka_unit_test(test_service_defaults_for_absent_fields),
		cmocka_unit_test(test_service_types),
		cmocka_unit_test(test_service_wrong_types_name_the_field),
		cmocka_unit_test(test_service_request_spec_loadbalancerip),
		cmocka_unit_test(test_service_request_annotation_list),
		cmocka_unit_test(test_service_request_errors),
		cmocka_unit_test(test_service_metallb_annotation_forms_work_and_are_flagged),
		cmocka_unit_test(test_service_ironlb_annotation_takes_precedence),
		cmocka_unit_test(test_service_selector_hash_ignores_order),
		cmocka_unit_test(test_service_status_ingress_decoded_and_compared),
		cmocka_unit_test(test_service_ingress_json_round_trips),
		cmocka_unit_test(test_service_parse_time),
		cmocka_unit_test(test_service_age_order),
		cmocka_unit_test(test_service_dup_is_deep_and_equal),
		cmocka_unit_test(test_service_hostile_values_never_crash),
	};

	return cmocka_run_group_tests_name("service", tests, NULL, NULL);
}
