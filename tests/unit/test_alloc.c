/* Unit tests for controller/alloc.c: every allocation rule of the
 * controller issue as a named test, then a randomized property test that
 * runs thousands of create/update/delete/pool-edit/namespace steps against
 * invariants (no address on two incompatible Services, every address inside
 * a pool that allows it, sharing only when compatible, stability across
 * unrelated changes, simulated restarts that reproduce the same assignment,
 * and re-assignment that changes nothing).
 *
 * The property test prints its seed and step on failure; set IRONLB_SEED to
 * replay one seed, IRONLB_STEPS to change the number of steps, and
 * IRONLB_TRACE=ns1/s3 to print every operation and every decision for that
 * Service on the way.
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
#include <time.h>

#include "../../controller/alloc.h"

/* ---- helpers ---- */

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

static struct pool *P(const char *name, int created, const char *spec)
{
	char buf[4096], err[POOL_ERR_MAX] = "";
	struct pool *p = NULL;
	json_t *v;

	snprintf(buf, sizeof(buf),
		 "{'metadata':{'name':'%s','generation':2,'creationTimestamp':"
		 "'2024-01-01T00:%02d:%02dZ'},'spec':%s}",
		 name, created / 60, created % 60, spec);
	v = j(buf);
	if (pool_from_json(v, &p, err, sizeof(err)) != 0)
		fail_msg("pool %s rejected: %s", name, err);
	json_decref(v);
	return p;
}

static void set_pool(struct alloc *a, const char *name, int created, const char *spec)
{
	assert_int_equal(alloc_pool_set(a, P(name, created, spec)), 0);
}

/* A Service "ns/name": type LoadBalancer with port 80/TCP unless spec
 * overrides; status lists the ingress IPs ("198.51.100.1,2001:db8::1"). */
static struct service *S(const char *nsname, int created, const char *spec, const char *annots,
			 const char *status)
{
	char ns[64], name[64], buf[4096], st[512] = "", err[SERVICE_ERR_MAX] = "";
	const char *slash = strchr(nsname, '/');
	struct service *s = NULL;
	json_t *v;

	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - nsname), nsname);
	snprintf(name, sizeof(name), "%s", slash + 1);
	if (status) {
		char tmp[256], *save = NULL;

		snprintf(tmp, sizeof(tmp), "%s", status);
		for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
			snprintf(st + strlen(st), sizeof(st) - strlen(st), "%s{'ip':'%s'}",
				 st[0] ? "," : "", t);
	}
	snprintf(buf, sizeof(buf),
		 "{'metadata':{'namespace':'%s','name':'%s','uid':'uid-%s','creationTimestamp':"
		 "'2024-02-01T00:%02d:%02dZ','annotations':{%s}},'spec':{'type':'LoadBalancer',"
		 "'ports':[{'port':80}]%s%s},'status':{'loadBalancer':{'ingress':[%s]}}}",
		 ns, name, name, created / 60, created % 60, annots ? annots : "",
		 spec && *spec ? "," : "", spec ? spec : "", st);
	v = j(buf);
	if (service_from_json(v, &s, err, sizeof(err)) != 0)
		fail_msg("service %s rejected: %s", nsname, err);
	json_decref(v);
	return s;
}

static struct alloc *new_alloc(void)
{
	struct alloc *a = alloc_new(&(struct alloc_config){ "ironlb.io/lb", true });

	assert_non_null(a);
	return a;
}

static struct alloc_decision *assign(struct alloc *a, struct service *s)
{
	struct alloc_decision *d = NULL;

	assert_int_equal(alloc_assign(a, s, &d), 0);
	assert_non_null(d);
	return d;
}

static void check(const struct alloc *a)
{
	char err[512];

	if (alloc_check(a, err, sizeof(err)) != 0)
		fail_msg("allocator inconsistent: %s", err);
}

/* Comma-joined addresses of a decision. */
static const char *dstr(const struct alloc_decision *d)
{
	static char buf[4][128];
	static int k;
	char *out = buf[k++ % 4];

	out[0] = '\0';
	for (size_t i = 0; i < d->naddrs; i++) {
		char ipb[IP_STRLEN];

		snprintf(out + strlen(out), 128 - strlen(out), "%s%s", i ? "," : "",
			 ip_format(&d->addrs[i].addr, ipb, sizeof(ipb)));
	}
	return out;
}

/* Assigns and returns the addresses as a string; frees the decision. */
static const char *give(struct alloc *a, struct service *s)
{
	struct alloc_decision *d = assign(a, s);
	const char *r = dstr(d);

	alloc_decision_free(d);
	check(a);
	return r;
}

/* Addresses a Service holds now, comma-joined. */
static const char *held(const struct alloc *a, const char *nsname)
{
	static char buf[4][128];
	static int k;
	char *out = buf[k++ % 4], ns[64];
	const char *slash = strchr(nsname, '/');
	struct ip_addr addrs[2];
	size_t n = 0;

	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - nsname), nsname);
	out[0] = '\0';
	if (alloc_service_addrs(a, ns, slash + 1, addrs, &n) < 0)
		return "(unknown)";
	for (size_t i = 0; i < n; i++) {
		char ipb[IP_STRLEN];

		snprintf(out + strlen(out), 128 - strlen(out), "%s%s", i ? "," : "",
			 ip_format(&addrs[i], ipb, sizeof(ipb)));
	}
	return out;
}

/* Runs every pending re-decision; returns how many there were. If last is
 * not NULL, the decision for that Service is kept in *last (caller frees). */
static int drain_keep(struct alloc *a, const char *nsname, struct alloc_decision **last)
{
	struct alloc_decision *d;
	int n = 0, r;

	while ((r = alloc_next_dirty(a, &d)) > 0) {
		char key[160];

		snprintf(key, sizeof(key), "%s/%s", d->namespace, d->name);
		n++;
		if (last && nsname && strcmp(key, nsname) == 0) {
			alloc_decision_free(*last);
			*last = d;
		} else {
			alloc_decision_free(d);
		}
	}
	assert_int_equal(r, 0);
	check(a);
	return n;
}

static int drain(struct alloc *a)
{
	return drain_keep(a, NULL, NULL);
}

/* ---- which Services are handled ---- */

static void test_alloc_assigns_lowest_free_address(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d, *later = NULL;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.10-198.51.100.12']}");
	assert_string_equal(give(a, S("default/a", 1, NULL, NULL, NULL)), "198.51.100.10");
	assert_string_equal(give(a, S("default/b", 2, NULL, NULL, NULL)), "198.51.100.11");
	assert_string_equal(give(a, S("default/c", 3, NULL, NULL, NULL)), "198.51.100.12");
	d = assign(a, S("default/d", 4, NULL, NULL, NULL));
	assert_true(d->handled);
	assert_int_equal(d->naddrs, 0);
	assert_int_equal(d->error, ALLOC_ERR_EXHAUSTED);
	assert_string_equal(d->reason, "no free IPv4 address left in IPAddressPool \"p\"");
	assert_string_equal(d->namespace, "default");
	assert_string_equal(d->name, "d");
	alloc_decision_free(d);
	/* Freeing an address retries the Service that failed. */
	assert_int_equal(alloc_release(a, "default", "b"), 0);
	drain_keep(a, "default/d", &later);
	assert_non_null(later);
	assert_string_equal(dstr(later), "198.51.100.11");
	assert_string_equal(later->addrs[0].pool, "p");
	assert_string_equal(later->pool_annotation, "p");
	assert_null(later->reason);
	alloc_decision_free(later);
	assert_int_equal(alloc_release(a, "default", "nope"), -ENOENT);
	alloc_free(a);
}

static void test_alloc_handles_only_loadbalancer_of_our_class(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	d = assign(a, S("default/cip", 1, "'type':'ClusterIP'", NULL, NULL));
	assert_false(d->handled);
	assert_int_equal(d->naddrs, 0);
	assert_false(d->clear_status);
	alloc_decision_free(d);
	d = assign(a, S("default/other", 1, "'loadBalancerClass':'example.com/lb'", NULL, NULL));
	assert_false(d->handled);
	assert_int_equal(d->naddrs, 0);
	alloc_decision_free(d);
	assert_string_equal(
		give(a, S("default/ours", 1, "'loadBalancerClass':'ironlb.io/lb'", NULL, NULL)),
		"198.51.100.0");
	/* Services that hold nothing are not remembered. */
	assert_null(alloc_service_get(a, "default", "cip"));
	assert_null(alloc_service_get(a, "default", "other"));
	assert_non_null(alloc_service_get(a, "default", "ours"));
	alloc_free(a);

	/* Without --default-class, only the explicit class is handled. */
	a = alloc_new(&(struct alloc_config){ "ironlb.io/lb", false });
	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	d = assign(a, S("default/unset", 1, NULL, NULL, NULL));
	assert_false(d->handled);
	alloc_decision_free(d);
	assert_string_equal(
		give(a, S("default/ours", 1, "'loadBalancerClass':'ironlb.io/lb'", NULL, NULL)),
		"198.51.100.0");
	alloc_free(a);
}

static void test_alloc_service_leaving_us_releases_and_clears_status(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;
	char buf[IP_STRLEN];

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	assert_string_equal(give(a, S("default/a", 1, NULL, NULL, NULL)), "198.51.100.0");
	assert_string_equal(give(a, S("default/b", 2, NULL, NULL, NULL)), "198.51.100.1");
	d = assign(a, S("default/a", 1, "'type':'ClusterIP'", NULL, "198.51.100.0"));
	assert_false(d->handled);
	assert_true(d->clear_status);
	assert_int_equal(d->nreleased, 1);
	assert_string_equal(ip_format(&d->released[0], buf, sizeof(buf)), "198.51.100.0");
	alloc_decision_free(d);
	d = assign(a,
		   S("default/b", 2, "'loadBalancerClass':'example.com/lb'", NULL, "198.51.100.1"));
	assert_false(d->handled);
	assert_true(d->clear_status);
	assert_string_equal(ip_format(&d->released[0], buf, sizeof(buf)), "198.51.100.1");
	alloc_decision_free(d);
	drain(a);
	assert_string_equal(give(a, S("default/c", 3, NULL, NULL, NULL)), "198.51.100.0");
	/* A non-LoadBalancer Service with a leftover status gets it cleared;
	 * another class's status is not ours to touch. */
	d = assign(a, S("default/d", 4, "'type':'NodePort'", NULL, "198.51.100.9"));
	assert_true(d->clear_status);
	assert_int_equal(d->nreleased, 0);
	alloc_decision_free(d);
	d = assign(a,
		   S("default/e", 4, "'loadBalancerClass':'example.com/lb'", NULL, "198.51.100.9"));
	assert_false(d->clear_status);
	alloc_decision_free(d);
	alloc_free(a);
}

/* ---- requests ---- */

static void test_alloc_request_spec_loadbalancerip(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	assert_string_equal(
		give(a, S("default/a", 1, "'loadBalancerIP':'198.51.100.50'", NULL, NULL)),
		"198.51.100.50");
	d = assign(a, S("web/b", 2, "'loadBalancerIP':'198.51.100.50'", NULL, NULL));
	assert_int_equal(d->naddrs, 0);
	assert_int_equal(d->error, ALLOC_ERR_IN_USE);
	assert_string_equal(d->reason, "requested address 198.51.100.50 is already used by Service "
				       "default/a (no allow-shared-ip key on both)");
	alloc_decision_free(d);
	/* Automatic allocation skips the requested address. */
	assert_string_equal(give(a, S("default/c", 3, NULL, NULL, NULL)), "198.51.100.0");
	alloc_free(a);
}

static void test_alloc_request_annotation_dual_stack(void **state)
{
	struct alloc *a = new_alloc();

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24','2001:db8::/120']}");
	assert_string_equal(
		give(a, S("default/a", 1,
			  "'ipFamilies':['IPv4','IPv6'],'ipFamilyPolicy':'RequireDualStack'",
			  "'ironlb.io/loadBalancerIPs':'2001:db8::5,198.51.100.5'", NULL)),
		"198.51.100.5,2001:db8::5");
	/* Primary family first in the status. */
	assert_string_equal(
		give(a, S("default/b", 2,
			  "'ipFamilies':['IPv6','IPv4'],'ipFamilyPolicy':'PreferDualStack'",
			  "'ironlb.io/loadBalancerIPs':'198.51.100.6,2001:db8::6'", NULL)),
		"2001:db8::6,198.51.100.6");
	/* Requested addresses are exactly what the Service gets. */
	assert_string_equal(
		give(a, S("default/c", 3,
			  "'ipFamilies':['IPv4','IPv6'],'ipFamilyPolicy':'PreferDualStack'",
			  "'ironlb.io/loadBalancerIPs':'198.51.100.7'", NULL)),
		"198.51.100.7");
	alloc_free(a);
}

static void test_alloc_metallb_annotations_work_with_a_note(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	set_pool(a, "gold", 1, "{'addresses':['203.0.113.0/24'],'autoAssign':false}");
	d = assign(a, S("default/a", 1, NULL,
			"'metallb.universe.tf/loadBalancerIPs':'198.51.100.9'", NULL));
	assert_string_equal(dstr(d), "198.51.100.9");
	assert_int_equal(d->nnotes, 1);
	assert_string_equal(d->notes[0],
			    "annotation metallb.universe.tf/loadBalancerIPs is "
			    "honoured; ironlb's own form is ironlb.io/loadBalancerIPs");
	alloc_decision_free(d);
	d = assign(a, S("default/b", 2, NULL,
			"'metallb.io/address-pool':'gold','metallb.io/allow-shared-ip':'k'", NULL));
	assert_string_equal(dstr(d), "203.0.113.0");
	assert_int_equal(d->nnotes, 2);
	assert_string_equal(d->notes[0], "annotation metallb.io/address-pool is honoured; "
					 "ironlb's own form is ironlb.io/address-pool");
	assert_string_equal(d->notes[1], "annotation metallb.io/allow-shared-ip is honoured; "
					 "ironlb's own form is ironlb.io/allow-shared-ip");
	alloc_decision_free(d);
	d = assign(a, S("default/c", 3, NULL, "'ironlb.io/address-pool':'gold'", NULL));
	assert_string_equal(dstr(d), "203.0.113.1");
	assert_int_equal(d->nnotes, 0);
	alloc_decision_free(d);
	alloc_free(a);
}

static void test_alloc_request_both_ways_is_an_error(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	assert_string_equal(give(a, S("default/a", 1, NULL, NULL, NULL)), "198.51.100.0");
	d = assign(a, S("default/a", 1, "'loadBalancerIP':'198.51.100.9'",
			"'ironlb.io/loadBalancerIPs':'198.51.100.9'", "198.51.100.0"));
	assert_int_equal(d->naddrs, 0);
	assert_int_equal(d->error, ALLOC_ERR_BAD_REQUEST);
	assert_string_equal(d->reason, "spec.loadBalancerIP and ironlb.io/loadBalancerIPs are both "
				       "set; use only ironlb.io/loadBalancerIPs");
	alloc_decision_free(d);
	assert_string_equal(held(a, "default/a"), "");
	/* A malformed annotation is reported the same way. */
	d = assign(a, S("default/b", 2, NULL, "'ironlb.io/loadBalancerIPs':'198.51.100.x'", NULL));
	assert_int_equal(d->error, ALLOC_ERR_BAD_REQUEST);
	assert_string_equal(d->reason,
			    "ironlb.io/loadBalancerIPs: \"198.51.100.x\": invalid character");
	alloc_decision_free(d);
	alloc_free(a);
}

static void test_alloc_request_not_in_any_pool_fails(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	d = assign(a, S("default/a", 1, "'loadBalancerIP':'203.0.113.1'", NULL, NULL));
	assert_int_equal(d->naddrs, 0);
	assert_int_equal(d->error, ALLOC_ERR_NOT_IN_POOL);
	assert_string_equal(d->reason, "requested address 203.0.113.1 is not in any IPAddressPool");
	alloc_decision_free(d);
	/* It works as soon as a pool holds it. */
	set_pool(a, "q", 2, "{'addresses':['203.0.113.0/24'],'autoAssign':false}");
	d = NULL;
	drain_keep(a, "default/a", &d);
	assert_string_equal(dstr(d), "203.0.113.1");
	alloc_decision_free(d);
	alloc_free(a);
}

static void test_alloc_request_wrong_family_fails(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24','2001:db8::/64']}");
	d = assign(a, S("default/a", 1, "'ipFamilies':['IPv4'],'ipFamilyPolicy':'SingleStack'",
			"'ironlb.io/loadBalancerIPs':'2001:db8::1'", NULL));
	assert_int_equal(d->naddrs, 0);
	assert_int_equal(d->error, ALLOC_ERR_WRONG_FAMILY);
	assert_string_equal(d->reason, "ironlb.io/loadBalancerIPs asks for an IPv6 address but "
				       "spec.ipFamilies does not include IPv6");
	alloc_decision_free(d);
	d = assign(a, S("default/b", 1,
			"'ipFamilies':['IPv4','IPv6'],'ipFamilyPolicy':'RequireDualStack',"
			"'loadBalancerIP':'198.51.100.1'",
			NULL, NULL));
	assert_int_equal(d->error, ALLOC_ERR_BAD_REQUEST);
	assert_string_equal(d->reason,
			    "ipFamilyPolicy RequireDualStack needs one requested address "
			    "per family, but spec.loadBalancerIP has only an IPv4 address");
	alloc_decision_free(d);
	alloc_free(a);
}

static void test_alloc_request_taken_fails_then_retried_when_freed(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	assert_string_equal(give(a, S("default/a", 1, NULL, NULL, NULL)), "198.51.100.0");
	d = assign(a, S("default/b", 2, "'loadBalancerIP':'198.51.100.0'", NULL, NULL));
	assert_int_equal(d->error, ALLOC_ERR_IN_USE);
	alloc_decision_free(d);
	/* Another Service's change that frees nothing leaves it failing. */
	assert_string_equal(give(a, S("default/c", 3, NULL, NULL, NULL)), "198.51.100.1");
	drain(a);
	assert_string_equal(held(a, "default/b"), "");
	assert_int_equal(alloc_release(a, "default", "a"), 0);
	d = NULL;
	drain_keep(a, "default/b", &d);
	assert_non_null(d);
	assert_string_equal(dstr(d), "198.51.100.0");
	assert_true(d->changed);
	alloc_decision_free(d);
	alloc_free(a);
}

static void test_alloc_autoassign_false_pool_needs_explicit_request(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "manual", 1, "{'addresses':['198.51.100.0/24'],'autoAssign':false}");
	d = assign(a, S("default/a", 1, NULL, NULL, NULL));
	assert_int_equal(d->error, ALLOC_ERR_NO_POOL);
	assert_string_equal(d->reason,
			    "no IPAddressPool may assign an IPv4 address to this Service "
			    "(\"manual\": autoAssign is false)");
	alloc_decision_free(d);
	assert_string_equal(
		give(a, S("default/b", 2, NULL, "'ironlb.io/address-pool':'manual'", NULL)),
		"198.51.100.0");
	assert_string_equal(
		give(a, S("default/c", 3, "'loadBalancerIP':'198.51.100.77'", NULL, NULL)),
		"198.51.100.77");
	alloc_free(a);
}

static void test_alloc_requested_pool_missing_or_invalid_fails(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	set_pool(a, "broken", 2, "{'addresses':['203.0.113.0/24','bogus']}");
	d = assign(a, S("default/a", 1, NULL, "'ironlb.io/address-pool':'nope'", NULL));
	assert_int_equal(d->error, ALLOC_ERR_POOL_MISSING);
	assert_string_equal(d->reason, "requested IPAddressPool \"nope\" does not exist");
	alloc_decision_free(d);
	d = assign(a, S("default/b", 1, NULL, "'ironlb.io/address-pool':'broken'", NULL));
	assert_int_equal(d->error, ALLOC_ERR_POOL_INVALID);
	assert_string_equal(d->reason, "requested IPAddressPool \"broken\" is invalid "
				       "(InvalidAddresses)");
	alloc_decision_free(d);
	d = assign(a, S("default/c", 1, "'loadBalancerIP':'203.0.113.4'", NULL, NULL));
	assert_int_equal(d->error, ALLOC_ERR_POOL_INVALID);
	assert_string_equal(d->reason, "requested address 203.0.113.4 is in IPAddressPool "
				       "\"broken\", which is invalid (InvalidAddresses)");
	alloc_decision_free(d);
	/* Creating the missing pool retries. */
	set_pool(a, "nope", 3, "{'addresses':['192.0.2.0/24']}");
	d = NULL;
	drain_keep(a, "default/a", &d);
	assert_string_equal(dstr(d), "192.0.2.0");
	alloc_decision_free(d);
	alloc_free(a);
}

static void test_alloc_address_outside_requested_pool_is_an_error(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "low", 1, "{'addresses':['198.51.100.0/25']}");
	set_pool(a, "high", 1, "{'addresses':['198.51.100.128/25']}");
	d = assign(a, S("default/a", 1, "'loadBalancerIP':'198.51.100.200'",
			"'ironlb.io/address-pool':'low'", NULL));
	assert_int_equal(d->error, ALLOC_ERR_NOT_IN_REQUESTED_POOL);
	assert_string_equal(d->reason, "requested address 198.51.100.200 is not in the requested "
				       "IPAddressPool \"low\"");
	alloc_decision_free(d);
	assert_string_equal(give(a, S("default/b", 1, "'loadBalancerIP':'198.51.100.20'",
				      "'ironlb.io/address-pool':'low'", NULL)),
			    "198.51.100.20");
	/* Pool requested alone: that pool, even if another comes first. */
	assert_string_equal(
		give(a, S("default/c", 1, NULL, "'ironlb.io/address-pool':'low'", NULL)),
		"198.51.100.0");
	assert_string_equal(
		give(a, S("default/d", 1, NULL, "'ironlb.io/address-pool':'high'", NULL)),
		"198.51.100.128");
	alloc_free(a);
}

/* ---- dual stack ---- */

static void test_alloc_dual_stack_policies(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;
	const char *prefer = "'ipFamilies':['IPv4','IPv6'],'ipFamilyPolicy':'PreferDualStack'";
	const char *require = "'ipFamilies':['IPv4','IPv6'],'ipFamilyPolicy':'RequireDualStack'";

	set_pool(a, "v4", 1, "{'addresses':['198.51.100.0/24']}");
	assert_string_equal(
		give(a, S("default/single", 1,
			  "'ipFamilies':['IPv4'],'ipFamilyPolicy':'SingleStack'", NULL, NULL)),
		"198.51.100.0");
	d = assign(a, S("default/prefer", 2, prefer, NULL, NULL));
	assert_string_equal(dstr(d), "198.51.100.1");
	assert_int_equal(d->error, ALLOC_OK);
	assert_null(d->reason);
	assert_int_equal(d->nnotes, 1);
	assert_string_equal(d->notes[0], "ipFamilyPolicy PreferDualStack: no IPv6 address for now "
					 "(no IPAddressPool may assign an IPv6 address to this "
					 "Service)");
	alloc_decision_free(d);
	d = assign(a, S("default/require", 3, require, NULL, NULL));
	assert_int_equal(d->naddrs, 0);
	assert_int_equal(d->error, ALLOC_ERR_NO_POOL);
	assert_string_equal(d->reason,
			    "no IPAddressPool may assign an IPv6 address to this Service");
	alloc_decision_free(d);
	/* The IPv4 address was not kept aside for it. */
	assert_string_equal(give(a, S("default/x", 4, NULL, NULL, NULL)), "198.51.100.2");
	set_pool(a, "v6", 2, "{'addresses':['2001:db8::/120']}");
	drain(a);
	assert_string_equal(held(a, "default/prefer"), "198.51.100.1,2001:db8::");
	assert_string_equal(held(a, "default/require"), "198.51.100.3,2001:db8::1");
	assert_string_equal(held(a, "default/single"), "198.51.100.0");
	assert_string_equal(
		give(a, S("default/v6", 5, "'ipFamilies':['IPv6'],'ipFamilyPolicy':'SingleStack'",
			  NULL, NULL)),
		"2001:db8::2");
	/* Each family from its own pool: both names in the annotation. */
	d = assign(a, S("default/require", 3, require, NULL, "198.51.100.3,2001:db8::1"));
	assert_string_equal(d->pool_annotation, "v4,v6");
	assert_false(d->changed);
	alloc_decision_free(d);
	/* Dropping to single stack releases the other family. */
	assert_string_equal(
		give(a, S("default/prefer", 2,
			  "'ipFamilies':['IPv4'],'ipFamilyPolicy':'SingleStack'", NULL, NULL)),
		"198.51.100.1");
	alloc_free(a);
}

/* ---- sharing ---- */

static void test_alloc_sharing_compatible_services_share(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;
	const char *k = "'ironlb.io/allow-shared-ip':'k'";

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	assert_string_equal(give(a, S("default/a", 1, NULL, k, NULL)), "198.51.100.0");
	d = assign(a, S("default/b", 2, "'ports':[{'port':443}]", k, NULL));
	assert_string_equal(dstr(d), "198.51.100.0");
	assert_true(d->addrs[0].shared);
	alloc_decision_free(d);
	/* Same port and protocol: no. Same port, other protocol: yes. */
	assert_string_equal(give(a, S("default/c", 3, NULL, k, NULL)), "198.51.100.1");
	assert_string_equal(
		give(a, S("default/u", 3, "'ports':[{'port':80,'protocol':'UDP'}]", k, NULL)),
		"198.51.100.0");
	/* A different key or none: never. */
	assert_string_equal(give(a, S("default/d", 4, "'ports':[{'port':8080}]",
				      "'ironlb.io/allow-shared-ip':'other'", NULL)),
			    "198.51.100.2");
	assert_string_equal(give(a, S("default/e", 5, "'ports':[{'port':8081}]", NULL, NULL)),
			    "198.51.100.3");
	/* Other namespaces share under the same key too. */
	assert_string_equal(give(a, S("other/f", 6, "'ports':[{'port':22}]", k, NULL)),
			    "198.51.100.0");
	alloc_free(a);
}

static void test_alloc_sharing_requires_compatible_traffic_policy(void **state)
{
	struct alloc *a = new_alloc();
	const char *k = "'ironlb.io/allow-shared-ip':'k'";

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	assert_string_equal(
		give(a, S("default/l1", 1, "'externalTrafficPolicy':'Local','selector':{'app':'x'}",
			  k, NULL)),
		"198.51.100.0");
	/* Local with the same selector shares. */
	assert_string_equal(give(a, S("default/l2", 2,
				      "'externalTrafficPolicy':'Local','selector':{'app':'x'},"
				      "'ports':[{'port':81}]",
				      k, NULL)),
			    "198.51.100.0");
	/* Local with another selector does not. */
	assert_string_equal(give(a, S("default/l3", 3,
				      "'externalTrafficPolicy':'Local','selector':{'app':'y'},"
				      "'ports':[{'port':82}]",
				      k, NULL)),
			    "198.51.100.1");
	/* Cluster does not share with Local. */
	assert_string_equal(give(a, S("default/c1", 4,
				      "'externalTrafficPolicy':'Cluster','selector':{'app':'x'},"
				      "'ports':[{'port':83}]",
				      k, NULL)),
			    "198.51.100.2");
	alloc_free(a);
}

static void test_alloc_sharing_prefers_an_address_already_shared(void **state)
{
	struct alloc *a = new_alloc();
	const char *k = "'ironlb.io/allow-shared-ip':'k'";

	set_pool(a, "p", 1, "{'addresses':['198.51.100.10-198.51.100.20']}");
	assert_string_equal(give(a, S("default/x", 1, NULL, NULL, NULL)), "198.51.100.10");
	assert_string_equal(give(a, S("default/a", 2, NULL, k, NULL)), "198.51.100.11");
	assert_int_equal(alloc_release(a, "default", "x"), 0);
	drain(a);
	assert_string_equal(give(a, S("default/b", 3, "'ports':[{'port':443}]", k, NULL)),
			    "198.51.100.11");
	assert_string_equal(give(a, S("default/c", 4, "'ports':[{'port':443}]", k, NULL)),
			    "198.51.100.10");
	alloc_free(a);
}

static void test_alloc_sharing_explicit_request_joins(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;
	const char *k = "'ironlb.io/allow-shared-ip':'k'";

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	assert_string_equal(give(a, S("default/a", 1, "'loadBalancerIP':'198.51.100.5'", k, NULL)),
			    "198.51.100.5");
	assert_string_equal(
		give(a, S("default/b", 2, "'loadBalancerIP':'198.51.100.5','ports':[{'port':443}]",
			  k, NULL)),
		"198.51.100.5");
	d = assign(a, S("default/c", 3, "'loadBalancerIP':'198.51.100.5','ports':[{'port':443}]", k,
			NULL));
	assert_int_equal(d->error, ALLOC_ERR_IN_USE);
	assert_string_equal(d->reason, "requested address 198.51.100.5 is already used by Service "
				       "default/b (both use port 443/TCP)");
	alloc_decision_free(d);
	alloc_free(a);
}

static void test_alloc_sharing_broken_by_an_update_moves_the_changed_service(void **state)
{
	struct alloc *a = new_alloc();
	const char *k = "'ironlb.io/allow-shared-ip':'k'";

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	assert_string_equal(give(a, S("default/a", 1, NULL, k, NULL)), "198.51.100.0");
	assert_string_equal(give(a, S("default/b", 2, "'ports':[{'port':443}]", k, NULL)),
			    "198.51.100.0");
	/* b now collides with a on port 80: b moves, a stays. */
	assert_string_equal(give(a, S("default/b", 2, "'ports':[{'port':80}]", k, "198.51.100.0")),
			    "198.51.100.1");
	drain(a);
	assert_string_equal(held(a, "default/a"), "198.51.100.0");
	alloc_free(a);
}

static void test_alloc_failed_service_retried_when_holder_becomes_shareable(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;
	const char *k = "'ironlb.io/allow-shared-ip':'k'";

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	assert_string_equal(
		give(a, S("default/a", 1, "'loadBalancerIP':'198.51.100.5'", NULL, NULL)),
		"198.51.100.5");
	d = assign(a, S("default/b", 2, "'loadBalancerIP':'198.51.100.5','ports':[{'port':443}]", k,
			NULL));
	assert_int_equal(d->error, ALLOC_ERR_IN_USE);
	alloc_decision_free(d);
	/* The status echo of a changes nothing: b stays failed, quietly. */
	alloc_decision_free(assign(
		a, S("default/a", 1, "'loadBalancerIP':'198.51.100.5'", NULL, "198.51.100.5")));
	assert_int_equal(drain(a), 0);
	/* a opts in to sharing: b is retried and joins. */
	alloc_decision_free(
		assign(a, S("default/a", 1, "'loadBalancerIP':'198.51.100.5'", k, "198.51.100.5")));
	d = NULL;
	drain_keep(a, "default/b", &d);
	assert_non_null(d);
	assert_string_equal(dstr(d), "198.51.100.5");
	assert_true(d->addrs[0].shared);
	alloc_decision_free(d);
	alloc_free(a);
}

/* ---- pool choice ---- */

static void test_alloc_pool_priority_then_name_order(void **state)
{
	struct alloc *a = new_alloc();

	set_pool(a, "a-none", 1, "{'addresses':['198.51.100.0/31']}");
	set_pool(a, "b-two", 1,
		 "{'addresses':['198.51.100.2/31'],'serviceAllocation':{'priority':2}}");
	set_pool(a, "z-one", 1,
		 "{'addresses':['198.51.100.4/31'],'serviceAllocation':{'priority':1}}");
	set_pool(a, "c-one", 1,
		 "{'addresses':['198.51.100.6/31'],'serviceAllocation':{'priority':1}}");
	assert_string_equal(give(a, S("default/1", 1, NULL, NULL, NULL)), "198.51.100.6");
	assert_string_equal(give(a, S("default/2", 1, NULL, NULL, NULL)), "198.51.100.7");
	assert_string_equal(give(a, S("default/3", 1, NULL, NULL, NULL)), "198.51.100.4");
	assert_string_equal(give(a, S("default/4", 1, NULL, NULL, NULL)), "198.51.100.5");
	assert_string_equal(give(a, S("default/5", 1, NULL, NULL, NULL)), "198.51.100.2");
	assert_string_equal(give(a, S("default/6", 1, NULL, NULL, NULL)), "198.51.100.3");
	assert_string_equal(give(a, S("default/7", 1, NULL, NULL, NULL)), "198.51.100.0");
	assert_string_equal(give(a, S("default/8", 1, NULL, NULL, NULL)), "198.51.100.1");
	alloc_free(a);
}

static struct labels *labels(const char *text)
{
	json_t *v = j(text);
	struct labels *l = NULL;

	assert_int_equal(labels_from_json(v, "x", &l, NULL, 0), 0);
	json_decref(v);
	return l;
}

static void test_alloc_namespace_and_label_selectors_choose_pools(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "front", 1,
		 "{'addresses':['198.51.100.0/28'],'serviceAllocation':{'priority':0,"
		 "'serviceSelectors':[{'matchLabels':{'tier':'front'}}]}}");
	set_pool(a, "team", 1,
		 "{'addresses':['198.51.100.16/28'],'serviceAllocation':{'priority':1,"
		 "'namespaces':['web']}}");
	set_pool(a, "sel", 1,
		 "{'addresses':['198.51.100.32/28'],'serviceAllocation':{'priority':2,"
		 "'namespaceSelectors':[{'matchLabels':{'team':'a'}}]}}");
	set_pool(a, "any", 1, "{'addresses':['198.51.100.48/28']}");
	assert_int_equal(alloc_namespace_set(a, "x", labels("{'team':'a'}")), 0);
	assert_int_equal(alloc_namespace_set(a, "y", labels("{}")), 0);
	{
		struct service *s = S("web/f", 1, NULL, NULL, NULL);

		/* Labels come from metadata.labels. */
		labels_free(s->labels);
		s->labels = labels("{'tier':'front'}");
		assert_string_equal(give(a, s), "198.51.100.0");
	}
	assert_string_equal(give(a, S("web/plain", 1, NULL, NULL, NULL)), "198.51.100.16");
	assert_string_equal(give(a, S("x/s", 1, NULL, NULL, NULL)), "198.51.100.32");
	assert_string_equal(give(a, S("y/s", 1, NULL, NULL, NULL)), "198.51.100.48");
	/* Relabelling a namespace never moves what its Services hold... */
	assert_int_equal(alloc_namespace_set(a, "y", labels("{'team':'a'}")), 0);
	drain(a);
	assert_string_equal(held(a, "y/s"), "198.51.100.48");
	/* ...but new Services see the new labels. */
	assert_string_equal(give(a, S("y/t", 2, NULL, NULL, NULL)), "198.51.100.33");
	alloc_free(a);

	/* A Service no pool serves waits until its namespace qualifies. */
	a = new_alloc();
	set_pool(a, "sel", 1,
		 "{'addresses':['198.51.100.32/28'],'serviceAllocation':{"
		 "'namespaceSelectors':[{'matchLabels':{'team':'a'}}]}}");
	d = assign(a, S("z/s", 1, NULL, NULL, NULL));
	assert_int_equal(d->error, ALLOC_ERR_NO_POOL);
	assert_string_equal(d->reason,
			    "no IPAddressPool may assign an IPv4 address to this Service "
			    "(\"sel\": serviceAllocation excludes this Service)");
	alloc_decision_free(d);
	assert_int_equal(alloc_namespace_set(a, "z", labels("{'team':'a'}")), 0);
	d = NULL;
	drain_keep(a, "z/s", &d);
	assert_string_equal(dstr(d), "198.51.100.32");
	alloc_decision_free(d);
	assert_int_equal(alloc_namespace_delete(a, "z"), 0);
	assert_int_equal(alloc_namespace_delete(a, "z"), -ENOENT);
	drain(a);
	assert_string_equal(held(a, "z/s"), "198.51.100.32");
	alloc_free(a);
}

static void test_alloc_avoid_buggy_ips_skips_dot0_and_dot255(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.254-198.51.101.2'],'avoidBuggyIPs':true}");
	assert_string_equal(give(a, S("default/a", 1, NULL, NULL, NULL)), "198.51.100.254");
	assert_string_equal(give(a, S("default/b", 2, NULL, NULL, NULL)), "198.51.101.1");
	assert_string_equal(give(a, S("default/c", 3, NULL, NULL, NULL)), "198.51.101.2");
	d = assign(a, S("default/d", 4, NULL, NULL, NULL));
	assert_int_equal(d->error, ALLOC_ERR_EXHAUSTED);
	alloc_decision_free(d);
	d = assign(a, S("default/e", 5, "'loadBalancerIP':'198.51.100.255'", NULL, NULL));
	assert_int_equal(d->error, ALLOC_ERR_NOT_IN_POOL);
	assert_string_equal(d->reason, "requested address 198.51.100.255 ends in .0 or .255 and "
				       "IPAddressPool \"p\" has avoidBuggyIPs");
	alloc_decision_free(d);
	assert_int_equal(alloc_release(a, "default", "b"), 0);
	d = NULL;
	drain_keep(a, "default/d", &d);
	assert_string_equal(dstr(d), "198.51.101.1");
	alloc_decision_free(d);
	{
		struct alloc_pool_counts c;

		assert_int_equal(alloc_pool_counts(a, "p", &c), 0);
		assert_int_equal(c.assigned4, 3);
		assert_true(c.available4 == 0);
	}
	alloc_free(a);
}

static void test_alloc_huge_ipv6_pool_allocates_without_enumerating(void **state)
{
	enum { N = 3000 };
	struct alloc *a = new_alloc();
	struct alloc_pool_counts c;
	char buf[POOL_COUNT_STRLEN], name[32];
	clock_t t0 = clock();

	set_pool(a, "big", 1, "{'addresses':['2001:db8::/64','::/0']}");
	/* ::/0 overlaps the /64 and is invalid by itself, so the /64 pool is
	 * the only one; use a separate pool for the whole space. */
	set_pool(a, "big", 1, "{'addresses':['2001:db8::/64']}");
	set_pool(a, "all", 2, "{'addresses':['::/0'],'autoAssign':false}");
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "default/s%d", i);
		alloc_decision_free(assign(a, S(name, 1, "'ipFamilies':['IPv6']", NULL, NULL)));
	}
	assert_string_equal(held(a, "default/s2999"), "2001:db8::bb7");
	for (int i = 0; i < N; i += 2) {
		snprintf(name, sizeof(name), "s%d", i);
		assert_int_equal(alloc_release(a, "default", name), 0);
	}
	drain(a);
	assert_string_equal(give(a, S("default/new", 1, "'ipFamilies':['IPv6']", NULL, NULL)),
			    "2001:db8::");
	assert_string_equal(give(a, S("default/new2", 1, "'ipFamilies':['IPv6']", NULL, NULL)),
			    "2001:db8::2");
	assert_int_equal(alloc_pool_counts(a, "big", &c), 0);
	assert_int_equal(c.assigned6, N / 2 + 2);
	assert_string_equal(pool_format_count(c.available6, buf), "18446744073709550114");
	/* "all" overlaps the older "big" and is invalid: nothing available. */
	assert_int_equal(alloc_pool_counts(a, "all", &c), 0);
	assert_true(c.available6 == 0);
	check(a);
	/* Generous bound even under sanitizers: enumeration would take years. */
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 30.0);
	alloc_free(a);
}

/* ---- externalIPs ---- */

static void test_alloc_externalip_reserved_in_allowing_pool(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;
	struct alloc_pool_counts c;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/30'],'allowExternalIPs':true}");
	d = assign(a, S("default/e", 1, "'type':'ClusterIP','externalIPs':['198.51.100.1']", NULL,
			NULL));
	assert_false(d->handled);
	assert_int_equal(d->next, 1);
	assert_int_equal(d->ext[0].state, ALLOC_EXT_ACCEPTED);
	assert_null(d->ext[0].reason);
	alloc_decision_free(d);
	assert_string_equal(give(a, S("default/a", 2, NULL, NULL, NULL)), "198.51.100.0");
	assert_string_equal(give(a, S("default/b", 3, NULL, NULL, NULL)), "198.51.100.2");
	assert_int_equal(alloc_pool_counts(a, "p", &c), 0);
	assert_int_equal(c.assigned4, 3);
	assert_true(c.available4 == 1);
	/* Dropping the externalIP frees it. */
	alloc_decision_free(assign(a, S("default/e", 1, "'type':'ClusterIP'", NULL, NULL)));
	assert_string_equal(give(a, S("default/c", 4, NULL, NULL, NULL)), "198.51.100.1");
	alloc_free(a);
}

static void test_alloc_externalip_rejected_when_pool_disallows(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	set_pool(a, "ns", 1,
		 "{'addresses':['203.0.113.0/24'],'allowExternalIPs':true,"
		 "'serviceAllocation':{'namespaces':['web']}}");
	d = assign(a, S("default/e", 1,
			"'type':'NodePort','externalIPs':['198.51.100.1',"
			"'192.0.2.1','203.0.113.1','bogus','198.51.100.1']",
			NULL, NULL));
	assert_int_equal(d->next, 5);
	assert_int_equal(d->ext[0].state, ALLOC_EXT_REJECTED);
	assert_string_equal(d->ext[0].reason, "externalIP 198.51.100.1 is in IPAddressPool \"p\", "
					      "which does not allow externalIPs "
					      "(spec.allowExternalIPs)");
	/* Outside every pool: not ironlb's business. */
	assert_int_equal(d->ext[1].state, ALLOC_EXT_IGNORED);
	assert_int_equal(d->ext[2].state, ALLOC_EXT_REJECTED);
	assert_string_equal(d->ext[2].reason, "externalIP 203.0.113.1 is in IPAddressPool \"ns\", "
					      "whose serviceAllocation does not include this "
					      "Service");
	assert_int_equal(d->ext[3].state, ALLOC_EXT_REJECTED);
	assert_string_equal(d->ext[3].reason, "spec.externalIPs[3] is not an IP address");
	/* A repeated entry is decided once, at its first mention. */
	assert_int_equal(d->ext[4].state, ALLOC_EXT_IGNORED);
	alloc_decision_free(d);
	/* A rejected externalIP does not block the LoadBalancer pool. */
	assert_string_equal(give(a, S("default/a", 2, NULL, NULL, NULL)), "198.51.100.0");
	assert_string_equal(give(a, S("default/b", 2, NULL, NULL, NULL)), "198.51.100.1");
	/* Services of another class keep their externalIPs to themselves. */
	d = assign(a, S("default/o", 3, "'loadBalancerClass':'x/y','externalIPs':['203.0.113.1']",
			NULL, NULL));
	assert_int_equal(d->next, 0);
	alloc_decision_free(d);
	alloc_free(a);
}

static void run_ext_order(bool young_first, char *young_reason, size_t len)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d = NULL;
	struct service *young = S("default/young", 20,
				  "'type':'ClusterIP','externalIPs':"
				  "['198.51.100.1']",
				  NULL, NULL);
	struct service *old = S("default/old", 10,
				"'type':'ClusterIP','externalIPs':"
				"['198.51.100.1']",
				NULL, NULL);

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24'],'allowExternalIPs':true}");
	if (young_first) {
		alloc_decision_free(assign(a, young));
		alloc_decision_free(assign(a, old));
	} else {
		alloc_decision_free(assign(a, old));
		alloc_decision_free(assign(a, young));
	}
	drain_keep(a, "default/young", &d);
	if (!d)
		d = assign(a, S("default/young", 20,
				"'type':'ClusterIP','externalIPs':"
				"['198.51.100.1']",
				NULL, NULL));
	assert_int_equal(d->ext[0].state, ALLOC_EXT_REJECTED);
	snprintf(young_reason, len, "%s", d->ext[0].reason);
	alloc_decision_free(d);
	d = assign(a, S("default/old", 10, "'type':'ClusterIP','externalIPs':['198.51.100.1']",
			NULL, NULL));
	assert_int_equal(d->ext[0].state, ALLOC_EXT_ACCEPTED);
	alloc_decision_free(d);
	check(a);
	alloc_free(a);
}

static void test_alloc_externalip_conflict_oldest_wins_whatever_the_order(void **state)
{
	char r1[256], r2[256];

	run_ext_order(true, r1, sizeof(r1));
	run_ext_order(false, r2, sizeof(r2));
	assert_string_equal(r1, r2);
	assert_string_equal(r1, "externalIP 198.51.100.1 is already used by the externalIPs of the "
				"older Service default/old (no allow-shared-ip key on both)");
}

static void test_alloc_externalip_never_displaces_loadbalancer_address(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24'],'allowExternalIPs':true}");
	assert_string_equal(give(a, S("default/lb", 50, NULL, NULL, NULL)), "198.51.100.0");
	d = assign(a, S("default/ext", 1, "'type':'ClusterIP','externalIPs':['198.51.100.0']", NULL,
			NULL));
	assert_int_equal(d->ext[0].state, ALLOC_EXT_REJECTED);
	assert_string_equal(d->ext[0].reason, "externalIP 198.51.100.0 is already used by "
					      "LoadBalancer Service default/lb (no allow-shared-ip "
					      "key on both)");
	alloc_decision_free(d);
	drain(a);
	assert_string_equal(held(a, "default/lb"), "198.51.100.0");
	/* Released by the LoadBalancer Service, the address goes to it. */
	assert_int_equal(alloc_release(a, "default", "lb"), 0);
	d = NULL;
	drain_keep(a, "default/ext", &d);
	assert_int_equal(d->ext[0].state, ALLOC_EXT_ACCEPTED);
	alloc_decision_free(d);
	alloc_free(a);
}

/* ---- restore and stability ---- */

static void test_alloc_restore_keeps_status_addresses(void **state)
{
	struct alloc *a = new_alloc();
	struct service *svcs[3];

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	svcs[0] = S("default/a", 1, NULL, NULL, "198.51.100.7");
	svcs[1] = S("default/b", 2, NULL, NULL, "198.51.100.3");
	svcs[2] = S("default/c", 3, NULL, NULL, NULL);
	assert_int_equal(alloc_restore(a, svcs, 3), 0);
	/* Restore allocates nothing new. */
	assert_string_equal(held(a, "default/a"), "198.51.100.7");
	assert_string_equal(held(a, "default/b"), "198.51.100.3");
	assert_string_equal(held(a, "default/c"), "");
	assert_int_equal(drain(a), 3);
	assert_string_equal(held(a, "default/a"), "198.51.100.7");
	assert_string_equal(held(a, "default/b"), "198.51.100.3");
	assert_string_equal(held(a, "default/c"), "198.51.100.0");
	svcs[0] = S("default/d", 1, NULL, NULL, NULL);
	assert_int_equal(alloc_restore(a, svcs, 1), -EBUSY);
	alloc_free(a);
}

static void test_alloc_restore_conflict_oldest_wins_whatever_the_order(void **state)
{
	for (int order = 0; order < 2; order++) {
		struct alloc *a = new_alloc();
		struct service *svcs[2];
		struct service *young = S("default/young", 20, NULL, NULL, "198.51.100.7");
		struct service *old = S("default/old", 10, NULL, NULL, "198.51.100.7");

		svcs[order] = young;
		svcs[1 - order] = old;
		set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
		assert_int_equal(alloc_restore(a, svcs, 2), 0);
		drain(a);
		assert_string_equal(held(a, "default/old"), "198.51.100.7");
		assert_string_equal(held(a, "default/young"), "198.51.100.0");
		alloc_free(a);
	}
}

static void test_alloc_restore_drops_addresses_no_longer_valid(void **state)
{
	struct alloc *a = new_alloc();
	struct service *svcs[4];

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	svcs[0] = S("default/outside", 1, NULL, NULL, "203.0.113.5");
	svcs[1] = S("default/family", 2, "'ipFamilies':['IPv4']", NULL, "2001:db8::5");
	svcs[2] = S("default/request", 3, "'loadBalancerIP':'198.51.100.8'", NULL, "198.51.100.9");
	svcs[3] = S("default/other", 4, "'loadBalancerClass':'x/y'", NULL, "198.51.100.1");
	assert_int_equal(alloc_restore(a, svcs, 4), 0);
	drain(a);
	assert_string_equal(held(a, "default/outside"), "198.51.100.0");
	assert_string_equal(held(a, "default/family"), "198.51.100.1");
	assert_string_equal(held(a, "default/request"), "198.51.100.8");
	alloc_free(a);
}

static void test_alloc_late_service_adopts_its_status_address(void **state)
{
	struct alloc *a = new_alloc();

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	assert_int_equal(alloc_restore(a, NULL, 0), 0);
	/* A Service seen only after start-up keeps what its status says. */
	assert_string_equal(give(a, S("default/late", 1, NULL, NULL, "198.51.100.42")),
			    "198.51.100.42");
	/* Unless someone else holds it by then. */
	assert_string_equal(give(a, S("default/later", 2, NULL, NULL, "198.51.100.42")),
			    "198.51.100.0");
	alloc_free(a);
}

static void test_alloc_pool_edit_still_containing_keeps_address(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	assert_string_equal(
		give(a, S("default/a", 1, "'loadBalancerIP':'198.51.100.5'", NULL, NULL)),
		"198.51.100.5");
	assert_string_equal(give(a, S("default/b", 2, NULL, NULL, NULL)), "198.51.100.0");
	set_pool(a, "p", 1,
		 "{'addresses':['198.51.100.0-198.51.100.10'],'autoAssign':false,"
		 "'serviceAllocation':{'priority':7,'namespaces':['elsewhere']}}");
	drain(a);
	assert_string_equal(held(a, "default/a"), "198.51.100.5");
	assert_string_equal(held(a, "default/b"), "198.51.100.0");
	/* An invalid pool keeps what is inside its readable entries... */
	set_pool(a, "p", 1, "{'addresses':['198.51.100.0-198.51.100.10','nonsense']}");
	drain(a);
	assert_string_equal(held(a, "default/a"), "198.51.100.5");
	assert_string_equal(held(a, "default/b"), "198.51.100.0");
	/* ...and hands out nothing new. */
	d = assign(a, S("default/c", 3, NULL, NULL, NULL));
	assert_int_equal(d->error, ALLOC_ERR_NO_POOL);
	assert_string_equal(d->reason,
			    "no IPAddressPool may assign an IPv4 address to this Service "
			    "(\"p\": invalid)");
	alloc_decision_free(d);
	alloc_free(a);
}

static void test_alloc_pool_edit_excluding_moves_address(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d = NULL;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	assert_string_equal(give(a, S("default/a", 1, NULL, NULL, NULL)), "198.51.100.0");
	assert_string_equal(give(a, S("default/b", 2, NULL, NULL, NULL)), "198.51.100.1");
	set_pool(a, "p", 1, "{'addresses':['198.51.100.1-198.51.100.3']}");
	drain_keep(a, "default/a", &d);
	assert_string_equal(dstr(d), "198.51.100.2");
	assert_true(d->changed);
	alloc_decision_free(d);
	assert_string_equal(held(a, "default/b"), "198.51.100.1");
	alloc_free(a);
}

static void test_alloc_pool_deleted_address_reallocated_from_another(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d = NULL;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/28'],'serviceAllocation':{'priority':1}}");
	set_pool(a, "q", 1, "{'addresses':['198.51.100.16/28']}");
	assert_string_equal(give(a, S("default/a", 1, NULL, NULL, NULL)), "198.51.100.0");
	assert_int_equal(alloc_pool_delete(a, "p"), 0);
	assert_int_equal(alloc_pool_delete(a, "p"), -ENOENT);
	drain_keep(a, "default/a", &d);
	assert_string_equal(dstr(d), "198.51.100.16");
	assert_string_equal(d->pool_annotation, "q");
	alloc_decision_free(d);
	/* The last pool gone: no address, with a reason. */
	assert_int_equal(alloc_pool_delete(a, "q"), 0);
	d = NULL;
	drain_keep(a, "default/a", &d);
	assert_int_equal(d->naddrs, 0);
	assert_int_equal(d->error, ALLOC_ERR_NO_POOL);
	alloc_decision_free(d);
	alloc_free(a);
}

static void test_alloc_unreadable_pool_entry_keeps_addresses_outside_every_pool(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d = NULL;
	struct service *svcs[1];

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/28']}");
	set_pool(a, "q", 1, "{'addresses':['203.0.113.0/28']}");
	assert_string_equal(give(a, S("default/a", 1, NULL, NULL, NULL)), "198.51.100.0");
	/* A typo in the entry that holds it: kept, outside every pool. */
	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/28x']}");
	drain_keep(a, "default/a", &d);
	assert_string_equal(dstr(d), "198.51.100.0");
	assert_null(d->addrs[0].pool);
	assert_null(d->pool_annotation);
	alloc_decision_free(d);
	/* Also across a restart. */
	{
		struct alloc *b = new_alloc();

		set_pool(b, "p", 1, "{'addresses':['198.51.100.0/28x']}");
		set_pool(b, "q", 1, "{'addresses':['203.0.113.0/28']}");
		svcs[0] = S("default/a", 1, NULL, NULL, "198.51.100.0");
		assert_int_equal(alloc_restore(b, svcs, 1), 0);
		drain(b);
		assert_string_equal(held(b, "default/a"), "198.51.100.0");
		alloc_free(b);
	}
	/* Fixed: back in its pool. */
	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/28']}");
	d = NULL;
	drain_keep(a, "default/a", &d);
	assert_string_equal(d->pool_annotation, "p");
	alloc_decision_free(d);
	/* Deliberately removed with every pool readable: moves. */
	set_pool(a, "p", 1, "{'addresses':['198.51.100.64/28']}");
	drain(a);
	assert_string_equal(held(a, "default/a"), "198.51.100.64");
	alloc_free(a);
}

static void test_alloc_overlapping_pools_older_stays_valid(void **state)
{
	struct alloc *a = new_alloc();
	json_t *st;
	char *text;

	set_pool(a, "old", 10, "{'addresses':['198.51.100.0/24']}");
	assert_string_equal(
		give(a, S("default/a", 1, "'loadBalancerIP':'198.51.100.130'", NULL, NULL)),
		"198.51.100.130");
	set_pool(a, "new", 20, "{'addresses':['198.51.100.128/25']}");
	drain(a);
	assert_true(pool_valid(alloc_pool_get(a, "old")));
	assert_false(pool_valid(alloc_pool_get(a, "new")));
	st = alloc_pool_status_json(a, "new");
	text = json_dumps(st, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text, "{\"assignedIPv4\":0,\"assignedIPv6\":0,\"availableIPv4\":\"0\","
				  "\"availableIPv6\":\"0\",\"conditions\":[{\"message\":"
				  "\"spec.addresses[0]: \\\"198.51.100.128/25\\\" overlaps "
				  "\\\"198.51.100.0/24\\\" (spec.addresses[0]) of the older "
				  "IPAddressPool \\\"old\\\"\",\"observedGeneration\":2,\"reason\":"
				  "\"Overlap\",\"status\":\"False\",\"type\":\"Valid\"}]}");
	free(text);
	json_decref(st);
	/* The older pool goes: the other becomes valid and takes over. */
	assert_int_equal(alloc_pool_delete(a, "old"), 0);
	drain(a);
	assert_true(pool_valid(alloc_pool_get(a, "new")));
	assert_string_equal(held(a, "default/a"), "198.51.100.130");
	{
		struct alloc_pool_counts c;

		assert_int_equal(alloc_pool_counts(a, "new", &c), 0);
		assert_int_equal(c.assigned4, 1);
		assert_true(c.available4 == 127);
	}
	assert_null(alloc_pool_status_json(a, "old"));
	alloc_free(a);
}

/* ---- addresses a speaker found answered by a foreign host ---- */

static void set_skipped(struct alloc *a, const char *list, int want)
{
	struct ip_addr addrs[16];
	char tmp[512], *save = NULL;
	size_t n = 0;

	snprintf(tmp, sizeof(tmp), "%s", list);
	for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		assert_true(n < 16);
		assert_int_equal(ip_parse(t, &addrs[n++], NULL), 0);
	}
	assert_int_equal(alloc_set_skipped(a, addrs, n), want);
	check(a);
}

static const char *status_str(const struct alloc *a, const char *pool, const char *field)
{
	static char buf[4][256];
	static int k;
	char *out = buf[k++ % 4];
	json_t *st = alloc_pool_status_json(a, pool);
	json_t *v = json_object_get(st, field);
	char *text;

	assert_non_null(st);
	if (!v) {
		json_decref(st);
		return "(absent)";
	}
	text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	snprintf(out, 256, "%s", text);
	free(text);
	json_decref(st);
	return out;
}

static void test_alloc_skipped_address_auto_takes_next_free(void **state)
{
	struct alloc *a = new_alloc();
	const struct ip_addr *set;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/29','2001:db8::/126']}");
	/* Unsorted, with a duplicate and an address in no pool: kept sorted
	 * and distinct. */
	set_skipped(a, "2001:db8::,198.51.100.1,203.0.113.9,198.51.100.0,198.51.100.1", 1);
	assert_int_equal(alloc_skipped(a, &set), 4);
	assert_int_equal(set[0].bytes[3], 0);
	assert_int_equal(set[3].family, AF_INET6);
	/* The same set again is no change. */
	set_skipped(a, "198.51.100.0,198.51.100.1,2001:db8::,203.0.113.9", 0);
	assert_string_equal(status_str(a, "p", "nextIPv4"), "\"198.51.100.2\"");
	assert_string_equal(status_str(a, "p", "nextIPv6"), "\"2001:db8::1\"");
	assert_string_equal(status_str(a, "p", "skippedIPs"),
			    "[\"198.51.100.0\",\"198.51.100.1\",\"2001:db8::\"]");
	assert_string_equal(
		give(a, S("default/a", 1,
			  "'ipFamilies':['IPv4','IPv6'],'ipFamilyPolicy':'RequireDualStack'", NULL,
			  NULL)),
		"198.51.100.2,2001:db8::1");
	assert_string_equal(give(a, S("default/b", 2, NULL, NULL, NULL)), "198.51.100.3");
	/* A skipped address between used ones is passed over too. */
	set_skipped(a, "198.51.100.0,198.51.100.1,198.51.100.4", 1);
	assert_string_equal(give(a, S("default/c", 3, NULL, NULL, NULL)), "198.51.100.5");
	assert_string_equal(status_str(a, "p", "nextIPv4"), "\"198.51.100.6\"");
	assert_string_equal(status_str(a, "p", "nextIPv6"), "\"2001:db8::\"");
	alloc_free(a);
}

static void test_alloc_skipped_address_explicit_request_and_holder_unaffected(void **state)
{
	struct alloc *a = new_alloc();

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/30']}");
	assert_string_equal(give(a, S("default/a", 1, NULL, NULL, NULL)), "198.51.100.0");
	set_skipped(a, "198.51.100.0,198.51.100.1", 1);
	/* Holding it already: kept, on every re-decision. */
	drain_keep(a, NULL, NULL);
	assert_string_equal(held(a, "default/a"), "198.51.100.0");
	assert_string_equal(give(a, S("default/a", 1, "'ports':[{'port':81}]", NULL, NULL)),
			    "198.51.100.0");
	/* Asked for by name: given. */
	assert_string_equal(give(a, S("default/b", 2, NULL,
				      "'ironlb.io/loadBalancerIPs':'198.51.100.1'", NULL)),
			    "198.51.100.1");
	assert_string_equal(
		give(a, S("default/c", 3, "'loadBalancerIP':'198.51.100.3'", NULL, NULL)),
		"198.51.100.3");
	/* A restart adopts it from the status. */
	{
		struct alloc *b = new_alloc();
		struct service *svcs[1] = { S("default/a", 1, NULL, NULL, "198.51.100.0") };

		set_pool(b, "p", 1, "{'addresses':['198.51.100.0/30']}");
		set_skipped(b, "198.51.100.0", 1);
		assert_int_equal(alloc_restore(b, svcs, 1), 0);
		drain_keep(b, NULL, NULL);
		assert_string_equal(held(b, "default/a"), "198.51.100.0");
		alloc_free(b);
	}
	alloc_free(a);
}

static void test_alloc_skipped_set_shrinking_gives_pending_service_an_address(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d, *later = NULL;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.10-198.51.100.11']}");
	set_skipped(a, "198.51.100.10", 1);
	assert_string_equal(give(a, S("default/a", 1, NULL, NULL, NULL)), "198.51.100.11");
	/* The only address left is skipped: the pool counts as full. */
	d = assign(a, S("default/b", 2, NULL, NULL, NULL));
	assert_int_equal(d->naddrs, 0);
	assert_int_equal(d->error, ALLOC_ERR_EXHAUSTED);
	alloc_decision_free(d);
	assert_string_equal(status_str(a, "p", "nextIPv4"), "(absent)");
	assert_string_equal(status_str(a, "p", "skippedIPs"), "[\"198.51.100.10\"]");
	/* No longer skipped: the waiting Service gets it. */
	set_skipped(a, "", 1);
	drain_keep(a, "default/b", &later);
	assert_non_null(later);
	assert_string_equal(dstr(later), "198.51.100.10");
	assert_null(later->reason);
	alloc_decision_free(later);
	assert_string_equal(status_str(a, "p", "skippedIPs"), "(absent)");
	alloc_free(a);
}

static void test_alloc_skipped_ips_in_status_per_pool_bounded(void **state)
{
	struct alloc *a = new_alloc();
	struct ip_addr many[100];
	json_t *st;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24']}");
	set_pool(a, "q", 2, "{'addresses':['203.0.113.0/24'],'avoidBuggyIPs':true}");
	set_skipped(a, "203.0.113.1,198.51.100.7", 1);
	assert_string_equal(status_str(a, "p", "skippedIPs"), "[\"198.51.100.7\"]");
	assert_string_equal(status_str(a, "q", "skippedIPs"), "[\"203.0.113.1\"]");
	/* avoidBuggyIPs and a skipped address in a row. */
	assert_string_equal(status_str(a, "q", "nextIPv4"), "\"203.0.113.2\"");
	for (int i = 0; i < 100; i++)
		ip_from_u128(AF_INET, ((ip_u128)198 << 24 | 51 << 16 | 100 << 8) + i, &many[i]);
	assert_int_equal(alloc_set_skipped(a, many, 100), 1);
	st = alloc_pool_status_json(a, "p");
	assert_int_equal(json_array_size(json_object_get(st, "skippedIPs")),
			 ALLOC_SKIPPED_STATUS_MAX);
	assert_string_equal(json_string_value(json_object_get(st, "nextIPv4")), "198.51.100.100");
	json_decref(st);
	assert_string_equal(status_str(a, "q", "skippedIPs"), "(absent)");
	assert_string_equal(give(a, S("default/a", 1, NULL, NULL, NULL)), "198.51.100.100");
	alloc_free(a);
}

static void test_alloc_pool_counts_and_status_json(void **state)
{
	struct alloc *a = new_alloc();
	const char *k = "'ironlb.io/allow-shared-ip':'k'";
	json_t *st;
	char *text;

	set_pool(a, "p", 1,
		 "{'addresses':['198.51.100.0/29','2001:db8::/126'],"
		 "'allowExternalIPs':true}");
	assert_string_equal(give(a, S("default/a", 1, NULL, k, NULL)), "198.51.100.0");
	assert_string_equal(give(a, S("default/b", 2, "'ports':[{'port':443}]", k, NULL)),
			    "198.51.100.0");
	assert_string_equal(give(a, S("default/c", 3, "'ipFamilies':['IPv6']", NULL, NULL)),
			    "2001:db8::");
	alloc_decision_free(assign(a, S("default/e", 4,
					"'type':'ClusterIP','externalIPs':"
					"['198.51.100.5']",
					NULL, NULL)));
	st = alloc_pool_status_json(a, "p");
	text = json_dumps(st, JSON_SORT_KEYS | JSON_COMPACT);
	/* The next addresses skip the shared .0 and the externalIP .5 alike. */
	assert_string_equal(text, "{\"assignedIPv4\":2,\"assignedIPv6\":1,\"availableIPv4\":\"6\","
				  "\"availableIPv6\":\"3\",\"conditions\":[{\"message\":\"\","
				  "\"observedGeneration\":2,\"reason\":\"Valid\",\"status\":"
				  "\"True\",\"type\":\"Valid\"}],\"nextIPv4\":\"198.51.100.1\","
				  "\"nextIPv6\":\"2001:db8::1\"}");
	free(text);
	json_decref(st);
	/* What the status names next is what the next Service gets. */
	assert_string_equal(give(a, S("default/f", 5, NULL, NULL, NULL)), "198.51.100.1");
	assert_string_equal(give(a, S("default/g", 6, NULL, NULL, NULL)), "198.51.100.2");
	assert_string_equal(give(a, S("default/h", 7, NULL, NULL, NULL)), "198.51.100.3");
	assert_string_equal(give(a, S("default/i", 8, NULL, NULL, NULL)), "198.51.100.4");
	st = alloc_pool_status_json(a, "p");
	assert_string_equal(json_string_value(json_object_get(st, "nextIPv4")), "198.51.100.6");
	json_decref(st);
	assert_string_equal(give(a, S("default/j", 9, NULL, NULL, NULL)), "198.51.100.6");
	assert_string_equal(give(a, S("default/k", 10, NULL, NULL, NULL)), "198.51.100.7");
	/* Full: no next address for the family. */
	st = alloc_pool_status_json(a, "p");
	assert_null(json_object_get(st, "nextIPv4"));
	assert_string_equal(json_string_value(json_object_get(st, "nextIPv6")), "2001:db8::1");
	json_decref(st);
	assert_int_equal(alloc_pool_count(a), 1);
	assert_string_equal(alloc_pool_at(a, 0)->name, "p");
	assert_null(alloc_pool_at(a, 1));
	assert_int_equal(alloc_pool_counts(a, "x", &(struct alloc_pool_counts){ 0 }), -ENOENT);
	alloc_free(a);
}

static void test_alloc_desired_ingress_and_changed_flag(void **state)
{
	struct alloc *a = new_alloc();
	struct alloc_decision *d;
	struct service *s;
	struct ip_addr addrs[2];
	size_t n;

	set_pool(a, "p", 1, "{'addresses':['198.51.100.0/24','2001:db8::/120']}");
	d = assign(a, S("default/a", 1,
			"'ipFamilies':['IPv6','IPv4'],'ipFamilyPolicy':"
			"'RequireDualStack'",
			NULL, NULL));
	assert_true(d->changed);
	assert_string_equal(dstr(d), "2001:db8::,198.51.100.0");
	alloc_decision_free(d);
	/* The I/O layer writes the status; the echo changes nothing. */
	s = S("default/a", 1, "'ipFamilies':['IPv6','IPv4'],'ipFamilyPolicy':'RequireDualStack'",
	      NULL, "2001:db8::,198.51.100.0");
	assert_int_equal(alloc_service_addrs(a, "default", "a", addrs, &n), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		s->ingress[i].ip_mode = SERVICE_IP_MODE_VIP;
	assert_true(service_ingress_equal(s, addrs, n, SERVICE_IP_MODE_VIP));
	d = assign(a, s);
	assert_false(d->changed);
	assert_string_equal(dstr(d), "2001:db8::,198.51.100.0");
	alloc_decision_free(d);
	assert_int_equal(alloc_service_addrs(a, "default", "zz", addrs, &n), -ENOENT);
	assert_int_equal(alloc_service_count(a), 1);
	alloc_free(a);
}

/* ---- the randomized property test ---- */

#define NPOOLS 5
#define NNS 2
#define NSVC 24
#define NSPACE 64 /* addresses per family the pools are drawn from */

struct msvc {
	bool exists;
	char ns[16], name[16];
	int created;
	int type; /* 0 LoadBalancer, 1 ClusterIP, 2 NodePort */
	int cls;  /* 0 unset, 1 ours by name, 2 another */
	int fam;  /* index into fam_specs */
	int nreq;
	char req[2][IP_STRLEN];
	int req_via; /* 0 spec.loadBalancerIP, 1 ironlb.io, 2 metallb.io */
	char pool[8];
	char key[4];
	int nports;
	int port[2], proto[2];
	bool local;
	int sel;
	int next;
	char ext[2][IP_STRLEN];
	int tier;
	/* What the I/O layer wrote and was told. */
	int nstatus;
	struct ip_addr status[2];
	uint8_t ext_state[2];
};

struct model {
	uint64_t rng;
	uint64_t seed;
	int step;
	struct alloc *a;
	json_t *pools[NPOOLS];
	int ns_team[NNS];
	struct msvc s[NNS * NSVC];
	struct ip_addr skipped[4]; /* alloc_set_skipped, as a speaker would */
	size_t nskipped;
};

static const char *const fam_specs[] = {
	"'ipFamilies':['IPv4'],'ipFamilyPolicy':'SingleStack'",
	"'ipFamilies':['IPv6'],'ipFamilyPolicy':'SingleStack'",
	"'ipFamilies':['IPv4','IPv6'],'ipFamilyPolicy':'PreferDualStack'",
	"'ipFamilies':['IPv4','IPv6'],'ipFamilyPolicy':'RequireDualStack'",
	"'ipFamilies':['IPv6','IPv4'],'ipFamilyPolicy':'PreferDualStack'",
	"'ipFamilies':['IPv4']",
};
#define NFAM (int)(sizeof(fam_specs) / sizeof(fam_specs[0]))

static uint64_t rnd(struct model *m)
{
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 0x2545F4914F6CDD1DULL;
}

static int rn(struct model *m, int n)
{
	return (int)(rnd(m) % (uint64_t)n);
}

#define MFAIL(m, ...)                                                                              \
	fail_msg("seed %llu step %d: %s", (unsigned long long)(m)->seed, (m)->step,                \
		 (snprintf(failbuf, sizeof(failbuf), __VA_ARGS__), failbuf))

static char failbuf[1024];

/* Address i of the test space: IPv4 198.51.100.224 + i (crossing .255 and
 * .0, for avoidBuggyIPs), IPv6 2001:db8::i. */
static void space_addr(int family, int i, char *buf)
{
	struct ip_addr base, a;

	ip_parse(family == AF_INET ? "198.51.100.224" : "2001:db8::", &base, NULL);
	ip_add(&base, (ip_u128)i, &a);
	ip_format(&a, buf, IP_STRLEN);
}

static void gen_pool(struct model *m, int i)
{
	char buf[2048], entries[512] = "", alloc_[512] = "";
	int n = 1 + rn(m, 3);

	for (int e = 0; e < n; e++) {
		char ent[128], a1[IP_STRLEN], a2[IP_STRLEN];
		int fam = rn(m, 3) == 0 ? AF_INET6 : AF_INET;
		int k = rn(m, 30);

		if (k == 0) {
			snprintf(ent, sizeof(ent), "198.51.100.%d/24", 1 + rn(m, 200));
		} else if (k == 1) {
			snprintf(ent, sizeof(ent), "nonsense");
		} else if (k < 15) {
			int lo = rn(m, NSPACE), hi = lo + rn(m, 8);

			if (hi >= NSPACE)
				hi = NSPACE - 1;
			space_addr(fam, lo, a1);
			space_addr(fam, hi, a2);
			snprintf(ent, sizeof(ent), "%s-%s", a1, a2);
		} else {
			space_addr(fam, rn(m, NSPACE / 8) * 8, a1);
			snprintf(ent, sizeof(ent), "%s/%d", a1, fam == AF_INET ? 29 : 125);
		}
		snprintf(entries + strlen(entries), sizeof(entries) - strlen(entries), "%s'%s'",
			 e ? "," : "", ent);
	}
	if (rn(m, 2))
		snprintf(alloc_ + strlen(alloc_), sizeof(alloc_) - strlen(alloc_), "'priority':%d",
			 rn(m, 4));
	if (rn(m, 10) == 0)
		snprintf(alloc_ + strlen(alloc_), sizeof(alloc_) - strlen(alloc_),
			 "%s'namespaces':['ns0']", alloc_[0] ? "," : "");
	if (rn(m, 10) == 0)
		snprintf(alloc_ + strlen(alloc_), sizeof(alloc_) - strlen(alloc_),
			 "%s'namespaceSelectors':[{'matchLabels':{'team':'a'}}]",
			 alloc_[0] ? "," : "");
	if (rn(m, 10) == 0)
		snprintf(alloc_ + strlen(alloc_), sizeof(alloc_) - strlen(alloc_),
			 "%s'serviceSelectors':[{'matchLabels':{'tier':'web'}}]",
			 alloc_[0] ? "," : "");
	snprintf(buf, sizeof(buf),
		 "{'metadata':{'name':'p%d','creationTimestamp':'2024-01-01T00:00:%02dZ'},'spec':{"
		 "'addresses':[%s],'autoAssign':%s,'avoidBuggyIPs':%s,'allowExternalIPs':%s,"
		 "'serviceAllocation':{%s}}}",
		 i, rn(m, 60), entries, rn(m, 5) ? "true" : "false", rn(m, 5) ? "false" : "true",
		 rn(m, 3) ? "false" : "true", alloc_);
	json_decref(m->pools[i]);
	m->pools[i] = j(buf);
}

static struct pool *decode_pool(const json_t *v)
{
	struct pool *p = NULL;

	assert_int_equal(pool_from_json(v, &p, NULL, 0), 0);
	return p;
}

static void gen_svc(struct model *m, struct msvc *s)
{
	int k = rn(m, 10);

	s->type = k < 8 ? 0 : k == 8 ? 1 : 2;
	k = rn(m, 20);
	s->cls = k < 17 ? 0 : k < 19 ? 1 : 2;
	s->fam = rn(m, NFAM);
	s->nreq = 0;
	k = rn(m, 20);
	if (k < 3) {
		s->nreq = 1;
		space_addr(rn(m, 4) ? AF_INET : AF_INET6, rn(m, NSPACE), s->req[0]);
	} else if (k == 3) {
		s->nreq = 2;
		space_addr(AF_INET, rn(m, NSPACE), s->req[0]);
		space_addr(AF_INET6, rn(m, NSPACE), s->req[1]);
	}
	s->req_via = s->nreq == 2 ? 1 + rn(m, 2) : rn(m, 3);
	s->pool[0] = '\0';
	if (rn(m, 10) == 0)
		snprintf(s->pool, sizeof(s->pool), "p%d", rn(m, NPOOLS + 1));
	s->key[0] = '\0';
	if (rn(m, 5) < 2)
		snprintf(s->key, sizeof(s->key), "k%d", rn(m, 2));
	s->nports = 1 + rn(m, 2);
	for (int i = 0; i < s->nports; i++) {
		static const int ports[] = { 80, 443, 53 };

		s->port[i] = ports[rn(m, 3)];
		s->proto[i] = rn(m, 4) == 0;
	}
	s->local = rn(m, 5) == 0;
	s->sel = rn(m, 2);
	s->next = rn(m, 7) == 0 ? 1 + rn(m, 2) : 0;
	for (int i = 0; i < s->next; i++)
		space_addr(rn(m, 4) ? AF_INET : AF_INET6, rn(m, NSPACE), s->ext[i]);
	s->tier = rn(m, 2);
}

/* The Service as the API server would hand it over, status included. */
static struct service *decode_svc(const struct msvc *s)
{
	char spec[1024] = "", annots[512] = "", status[256] = "", buf[2048];
	static const char *const types[] = { "LoadBalancer", "ClusterIP", "NodePort" };
	static const char *const via[] = { "", "ironlb.io/loadBalancerIPs",
					   "metallb.io/loadBalancerIPs" };
	char err[SERVICE_ERR_MAX];
	struct service *out = NULL;
	json_t *v;

#define ADD(b, ...) snprintf((b) + strlen(b), sizeof(b) - strlen(b), __VA_ARGS__)
	ADD(spec, "'type':'%s',%s,'ports':[", types[s->type], fam_specs[s->fam]);
	for (int i = 0; i < s->nports; i++)
		ADD(spec, "%s{'port':%d,'protocol':'%s'}", i ? "," : "", s->port[i],
		    s->proto[i] ? "UDP" : "TCP");
	ADD(spec, "],'externalTrafficPolicy':'%s','selector':{'app':'a%d'}",
	    s->local ? "Local" : "Cluster", s->sel);
	if (s->cls)
		ADD(spec, ",'loadBalancerClass':'%s'", s->cls == 1 ? "ironlb.io/lb" : "other/lb");
	if (s->nreq == 1 && s->req_via == 0)
		ADD(spec, ",'loadBalancerIP':'%s'", s->req[0]);
	else if (s->nreq > 0)
		ADD(annots, "'%s':'%s%s%s',", via[s->req_via], s->req[0], s->nreq > 1 ? "," : "",
		    s->nreq > 1 ? s->req[1] : "");
	if (s->pool[0])
		ADD(annots, "'ironlb.io/address-pool':'%s',", s->pool);
	if (s->key[0])
		ADD(annots, "'metallb.universe.tf/allow-shared-ip':'%s',", s->key);
	ADD(annots, "'x':'y'");
	if (s->next) {
		ADD(spec, ",'externalIPs':[");
		for (int i = 0; i < s->next; i++)
			ADD(spec, "%s'%s'", i ? "," : "", s->ext[i]);
		ADD(spec, "]");
	}
	for (int i = 0; i < s->nstatus; i++) {
		char ipb[IP_STRLEN];

		ADD(status, "%s{'ip':'%s'}", i ? "," : "",
		    ip_format(&s->status[i], ipb, sizeof(ipb)));
	}
	snprintf(buf, sizeof(buf),
		 "{'metadata':{'namespace':'%s','name':'%s','creationTimestamp':"
		 "'2024-02-01T00:00:%02dZ','labels':{'tier':'%s'},'annotations':{%s}},"
		 "'spec':{%s},'status':{'loadBalancer':{'ingress':[%s]}}}",
		 s->ns, s->name, s->created, s->tier ? "web" : "db", annots, spec, status);
#undef ADD
	v = j(buf);
	if (service_from_json(v, &out, err, sizeof(err)) != 0)
		fail_msg("model service rejected: %s", err);
	json_decref(v);
	return out;
}

static struct msvc *find_msvc(struct model *m, const char *ns, const char *name)
{
	for (int i = 0; i < NNS * NSVC; i++)
		if (strcmp(m->s[i].ns, ns) == 0 && strcmp(m->s[i].name, name) == 0)
			return &m->s[i];
	return NULL;
}

/* Whether IRONLB_TRACE names this Service ("ns/name"). */
static bool traced(const char *ns, const char *name)
{
	const char *t = getenv("IRONLB_TRACE");
	size_t n = strlen(ns);

	return t && strncmp(t, ns, n) == 0 && t[n] == '/' && strcmp(t + n + 1, name) == 0;
}

/* Applies a decision the way the I/O layer would. */
static void apply(struct model *m, struct alloc_decision *d)
{
	struct msvc *s = find_msvc(m, d->namespace, d->name);

	if (!s || !s->exists)
		MFAIL(m, "decision for unknown Service %s/%s", d->namespace, d->name);
	if (traced(d->namespace, d->name)) {
		fprintf(stderr, "step %d: %s/%s handled=%d addrs=%s err=%d reason=%s changed=%d\n",
			m->step, d->namespace, d->name, d->handled, dstr(d), d->error,
			d->reason ? d->reason : "-", d->changed);
		for (size_t q = 0; q < d->nnotes; q++)
			fprintf(stderr, "   note: %s\n", d->notes[q]);
	}
	if (d->handled) {
		s->nstatus = (int)d->naddrs;
		for (size_t i = 0; i < d->naddrs; i++)
			s->status[i] = d->addrs[i].addr;
	} else if (d->clear_status) {
		s->nstatus = 0;
	}
	for (int i = 0; i < 2; i++)
		s->ext_state[i] = i < (int)d->next ? d->ext[i].state : 0;
	alloc_decision_free(d);
}

static void m_drain(struct model *m)
{
	struct alloc_decision *d;
	int r, guard = 0;

	while ((r = alloc_next_dirty(m->a, &d)) > 0) {
		apply(m, d);
		if (++guard > 100000)
			MFAIL(m, "alloc_next_dirty does not settle");
	}
	if (r < 0)
		MFAIL(m, "alloc_next_dirty: %d", r);
}

static bool m_ours(const struct msvc *s)
{
	return s->exists && s->type == 0 && s->cls != 2;
}

static bool m_compatible(const struct msvc *a, const struct msvc *b)
{
	if (!a->key[0] || !b->key[0] || strcmp(a->key, b->key) != 0)
		return false;
	if (a->local != b->local || (a->local && a->sel != b->sel))
		return false;
	for (int i = 0; i < a->nports; i++)
		for (int k = 0; k < b->nports; k++)
			if (a->port[i] == b->port[k] && a->proto[i] == b->proto[k])
				return false;
	return true;
}

static bool any_pool_contains(struct model *m, const struct ip_addr *x, bool *unparsed)
{
	bool found = false;

	*unparsed = false;
	for (size_t i = 0; i < alloc_pool_count(m->a); i++) {
		const struct pool *p = alloc_pool_at(m->a, i);

		*unparsed |= p->unparsed;
		found |= pool_contains(p, x);
	}
	return found;
}

/* Whether the allocator must keep x for s across a change that is not s's
 * own (mirrors the documented rule). */
static bool m_keepable(struct model *m, const struct msvc *s, const struct ip_addr *x)
{
	bool unparsed;

	if (!any_pool_contains(m, x, &unparsed))
		return unparsed;
	if (s->pool[0]) {
		const struct pool *p = alloc_pool_get(m->a, s->pool);

		return p && pool_contains(p, x);
	}
	return true;
}

static struct labels *ns_labels_of(struct model *m, int i)
{
	struct labels *l = NULL;
	json_t *v = j(m->ns_team[i] ? "{'team':'a'}" : "{}");

	assert_int_equal(labels_from_json(v, "x", &l, NULL, 0), 0);
	json_decref(v);
	return l;
}

static void m_invariants(struct model *m, struct msvc *before, int touched, bool pool_op)
{
	char err[512], ipb[IP_STRLEN];

	if (alloc_check(m->a, err, sizeof(err)) != 0)
		MFAIL(m, "alloc_check: %s", err);
	for (int i = 0; i < NNS * NSVC; i++) {
		struct msvc *s = &m->s[i];
		struct ip_addr got[2];
		size_t n = 0;
		const struct service *sp;

		if (!s->exists)
			continue;
		if (alloc_service_addrs(m->a, s->ns, s->name, got, &n) < 0)
			n = 0;
		/* The allocator and the last decision agree. */
		if (m_ours(s)) {
			if ((int)n != s->nstatus)
				MFAIL(m, "%s/%s holds %zu addresses, status says %d", s->ns,
				      s->name, n, s->nstatus);
			for (size_t k = 0; k < n; k++)
				if (!ip_equal(&got[k], &s->status[k]))
					MFAIL(m, "%s/%s: status differs from holdings", s->ns,
					      s->name);
		} else if (n > 0) {
			MFAIL(m, "%s/%s is not ours but holds an address", s->ns, s->name);
		}
		/* A skipped address is never taken automatically (sharing
		 * may still join one another Service holds). */
		for (size_t k = 0; s->nreq == 0 && !s->key[0] && k < n; k++) {
			bool had = false;

			for (int h = 0; h < before[i].nstatus; h++)
				had |= ip_equal(&before[i].status[h], &got[k]);
			for (size_t q = 0; !had && q < m->nskipped; q++)
				if (ip_equal(&m->skipped[q], &got[k]))
					MFAIL(m, "%s/%s took the skipped %s automatically", s->ns,
					      s->name, ip_format(&got[k], ipb, sizeof(ipb)));
		}
		sp = alloc_service_get(m->a, s->ns, s->name);
		for (size_t k = 0; k < n; k++) {
			const struct ip_addr *x = &got[k];
			bool unparsed, fam_ok = false, was = false;

			ip_format(x, ipb, sizeof(ipb));
			/* Inside a pool (or kept while a pool is unreadable). */
			if (!any_pool_contains(m, x, &unparsed) && !unparsed)
				MFAIL(m, "%s/%s holds %s outside every pool", s->ns, s->name, ipb);
			for (int f = 0; f < sp->nfamilies; f++)
				fam_ok |= sp->families[f] == x->family;
			if (!fam_ok && !(sp->nfamilies == 0 && x->family == AF_INET))
				MFAIL(m, "%s/%s holds %s of a family it did not ask for", s->ns,
				      s->name, ipb);
			if (s->nreq > 0) {
				bool asked = false;

				for (int r = 0; r < s->nreq; r++) {
					struct ip_addr q;

					ip_parse(s->req[r], &q, NULL);
					asked |= ip_equal(&q, x);
				}
				if (!asked)
					MFAIL(m, "%s/%s holds %s, not what it requested", s->ns,
					      s->name, ipb);
			}
			/* New addresses come from a valid pool allowed to give them. */
			for (int b = 0; b < before[i].nstatus; b++)
				was |= before[i].exists && ip_equal(&before[i].status[b], x);
			if (!was) {
				bool ok = false;

				for (size_t p = 0; p < alloc_pool_count(m->a) && !ok; p++) {
					const struct pool *pl = alloc_pool_at(m->a, p);
					int nsi = s->ns[2] - '0';
					struct labels *nl = ns_labels_of(m, nsi);

					ok = pool_valid(pl) && pool_contains(pl, x) &&
					     (pl->auto_assign || s->nreq > 0 ||
					      strcmp(s->pool, pl->name) == 0) &&
					     (!s->pool[0] || strcmp(s->pool, pl->name) == 0) &&
					     pool_serves(pl, s->ns, nl, sp->labels);
					labels_free(nl);
				}
				if (!ok)
					MFAIL(m, "%s/%s got %s from no pool allowed to give it",
					      s->ns, s->name, ipb);
			}
		}
		/* Sharing only between compatible Services. */
		for (int o = i + 1; o < NNS * NSVC; o++) {
			struct msvc *t = &m->s[o];

			if (!m_ours(s) || !m_ours(t))
				continue;
			for (int a1 = 0; a1 < s->nstatus; a1++)
				for (int a2 = 0; a2 < t->nstatus; a2++)
					if (ip_equal(&s->status[a1], &t->status[a2]) &&
					    !m_compatible(s, t))
						MFAIL(m, "%s/%s and %s/%s share %s incompatibly",
						      s->ns, s->name, t->ns, t->name,
						      ip_format(&s->status[a1], ipb, sizeof(ipb)));
		}
		/* Accepted externalIPs: in a pool that allows them, and on no
		 * incompatible Service's LoadBalancer address. */
		for (int e = 0; e < s->next && e < 2; e++) {
			struct ip_addr x;
			bool allowed = false;

			if (s->ext_state[e] != ALLOC_EXT_ACCEPTED)
				continue;
			ip_parse(s->ext[e], &x, NULL);
			for (size_t p = 0; p < alloc_pool_count(m->a); p++) {
				const struct pool *pl = alloc_pool_at(m->a, p);

				allowed |= pool_contains(pl, &x) && pl->allow_external_ips;
			}
			if (!allowed)
				MFAIL(m, "%s/%s: externalIP %s accepted outside an allowing pool",
				      s->ns, s->name, s->ext[e]);
			for (int o = 0; o < NNS * NSVC; o++) {
				struct msvc *t = &m->s[o];

				if (o == i || !m_ours(t))
					continue;
				for (int a2 = 0; a2 < t->nstatus; a2++)
					if (ip_equal(&t->status[a2], &x) && !m_compatible(s, t))
						MFAIL(m,
						      "externalIP %s of %s/%s is %s/%s's address",
						      s->ext[e], s->ns, s->name, t->ns, t->name);
			}
		}
		/* Stability: what an untouched Service held, it still holds,
		 * unless a pool change took the address out of reach. */
		if (i != touched && before[i].exists && m_ours(&before[i]) && m_ours(s)) {
			for (int b = 0; b < before[i].nstatus; b++) {
				const struct ip_addr *x = &before[i].status[b];
				bool still = false;

				for (int k = 0; k < s->nstatus; k++)
					still |= ip_equal(&s->status[k], x);
				if (!still && (!pool_op || m_keepable(m, s, x)))
					MFAIL(m, "%s/%s lost %s though nothing of its own changed",
					      s->ns, s->name, ip_format(x, ipb, sizeof(ipb)));
			}
		}
	}
}

/* Simulated restart: a new allocator restored from the written statuses
 * must come to exactly the same assignment. The model moves to it. */
static void m_restart(struct model *m)
{
	struct alloc *b = alloc_new(&(struct alloc_config){ "ironlb.io/lb", true });
	struct service *svcs[NNS * NSVC];
	struct msvc saved[NNS * NSVC];
	struct alloc *old = m->a;
	size_t n = 0;

	for (int i = 0; i < NPOOLS; i++)
		if (m->pools[i])
			assert_int_equal(alloc_pool_set(b, decode_pool(m->pools[i])), 0);
	for (int i = 0; i < NNS; i++) {
		char ns[16];

		snprintf(ns, sizeof(ns), "ns%d", i);
		assert_int_equal(alloc_namespace_set(b, ns, ns_labels_of(m, i)), 0);
	}
	assert_true(alloc_set_skipped(b, m->skipped, m->nskipped) >= 0);
	for (int i = 0; i < NNS * NSVC; i++)
		if (m->s[i].exists)
			svcs[n++] = decode_svc(&m->s[i]);
	/* Any order: the result must not depend on it. */
	for (size_t i = n; i > 1; i--) {
		size_t k = (size_t)rn(m, (int)i);
		struct service *t = svcs[i - 1];

		svcs[i - 1] = svcs[k];
		svcs[k] = t;
	}
	memcpy(saved, m->s, sizeof(saved));
	assert_int_equal(alloc_restore(b, svcs, n), 0);
	m->a = b;
	m_drain(m);
	for (int i = 0; i < NNS * NSVC; i++) {
		struct msvc *s = &m->s[i], *o = &saved[i];
		struct ip_addr x[2], y[2];
		size_t nx = 0, ny = 0;

		if (!s->exists)
			continue;
		alloc_service_addrs(old, s->ns, s->name, x, &nx);
		alloc_service_addrs(b, s->ns, s->name, y, &ny);
		if (nx != ny || s->nstatus != o->nstatus)
			MFAIL(m, "restart changed %s/%s: %zu addresses before, %zu after", s->ns,
			      s->name, nx, ny);
		for (size_t k = 0; k < nx; k++)
			if (!ip_equal(&x[k], &y[k]))
				MFAIL(m, "restart moved an address of %s/%s", s->ns, s->name);
		for (int e = 0; e < 2; e++)
			if (s->ext_state[e] != o->ext_state[e])
				MFAIL(m, "restart changed externalIP %d of %s/%s (%d -> %d)", e,
				      s->ns, s->name, o->ext_state[e], s->ext_state[e]);
	}
	for (size_t p = 0; p < alloc_pool_count(b); p++) {
		struct alloc_pool_counts c1, c2;
		const char *name = alloc_pool_at(b, p)->name;

		alloc_pool_counts(old, name, &c1);
		alloc_pool_counts(b, name, &c2);
		if (c1.assigned4 != c2.assigned4 || c1.assigned6 != c2.assigned6)
			MFAIL(m, "restart changed the counts of pool %s", name);
	}
	alloc_free(old);
}

/* A decision that reports a problem: its wording may follow the world
 * (which family ran out first) without the Service being retried. */
static bool troubled(const struct alloc_decision *d)
{
	bool t = d->error != ALLOC_OK;

	for (size_t i = 0; i < d->nnotes; i++)
		t |= strncmp(d->notes[i], "ipFamilyPolicy", 14) == 0;
	for (size_t i = 0; i < d->next; i++)
		t |= d->ext[i].state == ALLOC_EXT_REJECTED;
	return t;
}

/* Re-running assign for every Service (as an informer resync would) and
 * draining moves nothing, and changes no decision that had no problem. */
static void m_resync_all(struct model *m)
{
	struct alloc_decision *d;
	int r;

	for (int i = 0; i < NNS * NSVC; i++) {
		struct msvc *s = &m->s[i];
		int before = s->nstatus;
		struct ip_addr st[2];

		if (!s->exists)
			continue;
		memcpy(st, s->status, sizeof(st));
		assert_int_equal(alloc_assign(m->a, decode_svc(s), &d), 0);
		if (d->changed && !troubled(d))
			MFAIL(m, "re-assigning unchanged %s/%s changed its decision", s->ns,
			      s->name);
		apply(m, d);
		if (s->nstatus != before || memcmp(st, s->status, sizeof(st)) != 0)
			MFAIL(m, "re-assigning %s/%s moved it", s->ns, s->name);
	}
	while ((r = alloc_next_dirty(m->a, &d)) > 0) {
		struct msvc *s = find_msvc(m, d->namespace, d->name);
		int before = s->nstatus;
		struct ip_addr st[2];

		memcpy(st, s->status, sizeof(st));
		if (d->changed && !troubled(d))
			MFAIL(m, "resync of %s/%s changed its decision", d->namespace, d->name);
		apply(m, d);
		if (s->nstatus != before || memcmp(st, s->status, sizeof(st)) != 0)
			MFAIL(m, "resync moved %s/%s", s->ns, s->name);
	}
}

static void property_run(uint64_t seed, int steps)
{
	struct model *m = calloc(1, sizeof(*m));
	static struct msvc before[NNS * NSVC];

	assert_non_null(m);
	m->seed = seed;
	m->rng = seed * 2654435761u + 1;
	m->a = alloc_new(&(struct alloc_config){ "ironlb.io/lb", true });
	for (int n = 0; n < NNS; n++)
		for (int i = 0; i < NSVC; i++) {
			struct msvc *s = &m->s[n * NSVC + i];

			snprintf(s->ns, sizeof(s->ns), "ns%d", n);
			snprintf(s->name, sizeof(s->name), "s%d", i);
		}
	for (int i = 0; i < 3; i++) {
		gen_pool(m, i);
		assert_int_equal(alloc_pool_set(m->a, decode_pool(m->pools[i])), 0);
	}
	for (m->step = 0; m->step < steps; m->step++) {
		int op = rn(m, 100), touched = -1;
		bool pool_op = false;

		memcpy(before, m->s, sizeof(before));
		if (getenv("IRONLB_TRACE"))
			fprintf(stderr, "step %d op %d\n", m->step, op);
		if (op < 45) {
			int i = rn(m, NNS * NSVC);
			struct msvc *s = &m->s[i];
			struct alloc_decision *d;

			if (!s->exists) {
				s->exists = true;
				s->created = rn(m, 60);
				s->nstatus = 0;
				gen_svc(m, s);
			} else if (rn(m, 2)) {
				gen_svc(m, s);
			} else {
				/* A small edit: one aspect at a time. */
				switch (rn(m, 4)) {
				case 0:
					s->port[0] = s->port[0] == 80 ? 443 : 80;
					break;
				case 1:
					snprintf(s->key, sizeof(s->key), "%s",
						 s->key[0] ? "" : "k0");
					break;
				case 2:
					s->local = !s->local;
					break;
				default:
					s->fam = rn(m, NFAM);
				}
			}
			touched = i;
			assert_int_equal(alloc_assign(m->a, decode_svc(s), &d), 0);
			apply(m, d);
		} else if (op < 57) {
			int i = rn(m, NNS * NSVC);

			if (m->s[i].exists) {
				int r = alloc_release(m->a, m->s[i].ns, m->s[i].name);

				/* Services that hold nothing and could not are not
				 * remembered. */
				if (r != 0 && !(r == -ENOENT && !m_ours(&m->s[i]) &&
						!alloc_service_get(m->a, m->s[i].ns, m->s[i].name)))
					MFAIL(m, "alloc_release: %d", r);
				m->s[i].exists = false;
				m->s[i].nstatus = 0;
				touched = i;
			}
		} else if (op < 75) {
			int i = rn(m, NPOOLS);

			gen_pool(m, i);
			assert_int_equal(alloc_pool_set(m->a, decode_pool(m->pools[i])), 0);
			pool_op = true;
		} else if (op < 80) {
			int i = rn(m, NPOOLS);

			if (m->pools[i]) {
				char name[16];

				snprintf(name, sizeof(name), "p%d", i);
				assert_int_equal(alloc_pool_delete(m->a, name), 0);
				json_decref(m->pools[i]);
				m->pools[i] = NULL;
				pool_op = true;
			}
		} else if (op < 85) {
			int i = rn(m, NNS);
			char ns[16];

			m->ns_team[i] = !m->ns_team[i];
			snprintf(ns, sizeof(ns), "ns%d", i);
			assert_int_equal(alloc_namespace_set(m->a, ns, ns_labels_of(m, i)), 0);
		} else if (op < 88) {
			m_restart(m);
		} else if (op < 91) {
			m_resync_all(m);
		} else if (op < 94) {
			/* Addresses a speaker found taken: never move anything. */
			m->nskipped = (size_t)rn(m, 5);
			for (size_t k = 0; k < m->nskipped; k++) {
				char ab[IP_STRLEN];

				space_addr(rn(m, 3) == 0 ? AF_INET6 : AF_INET, rn(m, NSPACE), ab);
				assert_int_equal(ip_parse(ab, &m->skipped[k], NULL), 0);
			}
			assert_true(alloc_set_skipped(m->a, m->skipped, m->nskipped) >= 0);
		}
		m_drain(m);
		m_invariants(m, before, touched, pool_op);
	}
	m_restart(m);
	m_resync_all(m);
	alloc_free(m->a);
	for (int i = 0; i < NPOOLS; i++)
		json_decref(m->pools[i]);
	free(m);
}

static void test_alloc_property_random_sequences_keep_invariants(void **state)
{
	const char *env_seed = getenv("IRONLB_SEED"), *env_steps = getenv("IRONLB_STEPS");
	int steps = env_steps ? atoi(env_steps) : 1500;

	if (env_seed) {
		property_run(strtoull(env_seed, NULL, 10), steps);
		return;
	}
	for (uint64_t seed = 1; seed <= 6; seed++)
		property_run(seed, steps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_assigns_lowest_free_address),
		cmocka_unit_test(test_alloc_handles_only_loadbalancer_of_our_class),
		cmocka_unit_test(test_alloc_service_leaving_us_releases_and_clears_status),
		cmocka_unit_test(test_alloc_request_spec_loadbalancerip),
		cmocka_unit_test(test_alloc_request_annotation_dual_stack),
		cmocka_unit_test(test_alloc_metallb_annotations_work_with_a_note),
		cmocka_unit_test(test_alloc_request_both_ways_is_an_error),
		cmocka_unit_test(test_alloc_request_not_in_any_pool_fails),
		cmocka_unit_test(test_alloc_request_wrong_family_fails),
		cmocka_unit_test(test_alloc_request_taken_fails_then_retried_when_freed),
		cmocka_unit_test(test_alloc_autoassign_false_pool_needs_explicit_request),
		cmocka_unit_test(test_alloc_requested_pool_missing_or_invalid_fails),
		cmocka_unit_test(test_alloc_address_outside_requested_pool_is_an_error),
		cmocka_unit_test(test_alloc_dual_stack_policies),
		cmocka_unit_test(test_alloc_sharing_compatible_services_share),
		cmocka_unit_test(test_alloc_sharing_requires_compatible_traffic_policy),
		cmocka_unit_test(test_alloc_sharing_prefers_an_address_already_shared),
		cmocka_unit_test(test_alloc_sharing_explicit_request_joins),
		cmocka_unit_test(test_alloc_sharing_broken_by_an_update_moves_the_changed_service),
		cmocka_unit_test(test_alloc_failed_service_retried_when_holder_becomes_shareable),
		cmocka_unit_test(test_alloc_pool_priority_then_name_order),
		cmocka_unit_test(test_alloc_namespace_and_label_selectors_choose_pools),
		cmocka_unit_test(test_alloc_avoid_buggy_ips_skips_dot0_and_dot255),
		cmocka_unit_test(test_alloc_huge_ipv6_pool_allocates_without_enumerating),
		cmocka_unit_test(test_alloc_externalip_reserved_in_allowing_pool),
		cmocka_unit_test(test_alloc_externalip_rejected_when_pool_disallows),
		cmocka_unit_test(test_alloc_externalip_conflict_oldest_wins_whatever_the_order),
		cmocka_unit_test(test_alloc_externalip_never_displaces_loadbalancer_address),
		cmocka_unit_test(test_alloc_restore_keeps_status_addresses),
		cmocka_unit_test(test_alloc_restore_conflict_oldest_wins_whatever_the_order),
		cmocka_unit_test(test_alloc_restore_drops_addresses_no_longer_valid),
		cmocka_unit_test(test_alloc_late_service_adopts_its_status_address),
		cmocka_unit_test(test_alloc_pool_edit_still_containing_keeps_address),
		cmocka_unit_test(test_alloc_pool_edit_excluding_moves_address),
		cmocka_unit_test(test_alloc_pool_deleted_address_reallocated_from_another),
		cmocka_unit_test(
			test_alloc_unreadable_pool_entry_keeps_addresses_outside_every_pool),
		cmocka_unit_test(test_alloc_overlapping_pools_older_stays_valid),
		cmocka_unit_test(test_alloc_pool_counts_and_status_json),
		cmocka_unit_test(test_alloc_skipped_address_auto_takes_next_free),
		cmocka_unit_test(test_alloc_skipped_address_explicit_request_and_holder_unaffected),
		cmocka_unit_test(test_alloc_skipped_set_shrinking_gives_pending_service_an_address),
		cmocka_unit_test(test_alloc_skipped_ips_in_status_per_pool_bounded),
		cmocka_unit_test(test_alloc_desired_ingress_and_changed_flag),
		cmocka_unit_test(test_alloc_property_random_sequences_keep_invariants),
	};

	return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
