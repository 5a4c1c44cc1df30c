/* Compact decoders of the API objects the speaker watches (see objects.h).
 * Each reads only the fields the L2 decision uses and checks their JSON
 * types; a wrong type is a decode error naming the field. */
#include "objects.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ironlb/informer.h"
#include "ironlb/kube_resource.h"
#include "ironlb/log.h"

#define FAIL(why_)                                                                                 \
	do {                                                                                       \
		*ret_why = (why_);                                                                 \
		r = -EBADMSG;                                                                      \
		goto fail;                                                                         \
	} while (0)

/* obj.path as an object/array/string, or NULL when absent or null; sets *bad
 * when present with another type. */
static json_t *get_typed(json_t *parent, const char *key, json_type type, bool *bad)
{
	json_t *v = json_is_object(parent) ? json_object_get(parent, key) : NULL;

	if (!v || json_is_null(v))
		return NULL;
	if (json_typeof(v) != type) {
		*bad = true;
		return NULL;
	}
	return v;
}

static const char *get_str(json_t *parent, const char *key, bool *bad)
{
	json_t *v = get_typed(parent, key, JSON_STRING, bad);

	return v ? json_string_value(v) : NULL;
}

/* Decodes an array of strings into a new array of copies. */
static int str_array(json_t *arr, char ***ret, size_t *ret_n)
{
	size_t i, n = json_array_size(arr);
	char **v;

	*ret = NULL;
	*ret_n = 0;
	if (!n)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);

		if (!json_is_string(e) || !(v[i] = strdup(json_string_value(e)))) {
			while (i--)
				free(v[i]);
			free(v);
			return json_is_string(e) ? -ENOMEM : -EBADMSG;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static void str_array_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- Services ---- */

void obj_service_free(void *item, void *ud)
{
	struct obj_service *s = item;

	(void)ud;
	if (s && s->refs) {
		s->refs--;
		return;
	}
	free(s); /* one allocation: see service_alloc() */
}

void obj_service_hold(const struct obj_service *s)
{
	/* The cache hands Services out as const; a hold only counts. */
	((struct obj_service *)s)->refs++;
}

const char *obj_protocol_str(enum obj_protocol p)
{
	switch (p) {
	case OBJ_PROTO_UDP:
		return "udp";
	case OBJ_PROTO_SCTP:
		return "sctp";
	default:
		return "tcp";
	}
}

/* spec.ports[] entry e into *ret. 0 or -EBADMSG with *ret_why naming the
 * field. */
static int service_port_decode(json_t *e, struct obj_service_port *ret, const char **ret_why)
{
	json_t *p, *np;
	const char *proto;
	bool bad = false;

	if (!json_is_object(e)) {
		*ret_why = "spec.ports[]: not an object";
		return -EBADMSG;
	}
	p = json_object_get(e, "port");
	if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 65535) {
		*ret_why = "spec.ports[].port: not a port number";
		return -EBADMSG;
	}
	proto = get_str(e, "protocol", &bad);
	if (bad) {
		*ret_why = "spec.ports[].protocol: not a string";
		return -EBADMSG;
	}
	if (!proto || strcmp(proto, "TCP") == 0)
		ret->protocol = OBJ_PROTO_TCP;
	else if (strcmp(proto, "UDP") == 0)
		ret->protocol = OBJ_PROTO_UDP;
	else if (strcmp(proto, "SCTP") == 0)
		ret->protocol = OBJ_PROTO_SCTP;
	else {
		*ret_why = "spec.ports[].protocol: not TCP, UDP or SCTP";
		return -EBADMSG;
	}
	np = json_object_get(e, "nodePort");
	if (np && !json_is_null(np) &&
	    (!json_is_integer(np) || json_integer_value(np) < 0 ||
	     json_integer_value(np) > 65535)) {
		*ret_why = "spec.ports[].nodePort: not a port number";
		return -EBADMSG;
	}
	ret->port = (uint16_t)json_integer_value(p);
	ret->node_port = json_is_integer(np) ? (uint16_t)json_integer_value(np) : 0;
	return 0;
}

/* spec.clusterIPs, else spec.clusterIP: *ret_ips (NULL or the array itself)
 * and *ret_n (their count, at most; "None" and "" are headless: none).
 * 0, or -EBADMSG with *ret_why set. */
static int service_cluster_ips_find(json_t *spec, json_t **ret_ips, const char **ret_one,
				    size_t *ret_n, const char **ret_why)
{
	bool bad = false;
	json_t *ips = get_typed(spec, "clusterIPs", JSON_ARRAY, &bad);
	const char *one;

	if (bad) {
		*ret_why = "spec.clusterIPs: not an array";
		return -EBADMSG;
	}
	one = get_str(spec, "clusterIP", &bad);
	if (bad) {
		*ret_why = "spec.clusterIP: not a string";
		return -EBADMSG;
	}
	*ret_ips = ips;
	*ret_one = one;
	*ret_n = ips ? json_array_size(ips) : (one ? 1 : 0);
	return 0;
}

/* Parses the cluster IPs found by service_cluster_ips_find() into
 * s->cluster_ips (room for n). 0 or -EBADMSG with *ret_why set. */
static int service_cluster_ips_decode(json_t *ips, const char *one, size_t n, struct obj_service *s,
				      const char **ret_why)
{
	for (size_t i = 0; i < n; i++) {
		json_t *e = ips ? json_array_get(ips, i) : NULL;
		const char *txt = ips ? json_string_value(e) : one;

		if (ips && !json_is_string(e)) {
			*ret_why = "spec.clusterIPs[]: not a string";
			return -EBADMSG;
		}
		if (!*txt || strcmp(txt, "None") == 0)
			continue;
		if (ip_parse(txt, &s->cluster_ips[s->n_cluster_ips], NULL) < 0) {
			*ret_why = ips ? "spec.clusterIPs[]: not an IP address"
				       : "spec.clusterIP: not an IP address";
			return -EBADMSG;
		}
		s->n_cluster_ips++;
	}
	return 0;
}

/* A Service in one allocation: the struct, its ports, its addresses
 * (ingress, external, cluster IPs: room for as many as the object lists)
 * and its three strings, so that a cached Service costs one malloc chunk
 * rather than eight. NULL when out of memory or the sizes overflow. */
static struct obj_service *service_alloc(const struct kube_meta *m, size_t n_ports,
					 size_t n_ingress, size_t n_external, size_t n_cluster)
{
	const char *ns = m->ns ? m->ns : "", *name = m->name ? m->name : "";
	const char *uid = m->uid ? m->uid : "";
	size_t l_ns = strlen(ns) + 1, l_name = strlen(name) + 1, l_uid = strlen(uid) + 1;
	size_t n_addrs = n_ingress + n_external + n_cluster, size;
	struct obj_service *s;
	char *p;

	/* JSON arrays in a bounded watch line or list page: far from
	 * overflowing, but checked all the same. */
	if (n_ports > 65536 || n_addrs > 1u << 20)
		return NULL;
	size = sizeof(*s) + n_ports * sizeof(*s->ports) + n_addrs * sizeof(struct ip_addr) + l_ns +
	       l_name + l_uid;
	s = calloc(1, size);
	if (!s)
		return NULL;
	p = (char *)(s + 1);
	/* The ports first: they need the alignment the struct end has. */
	if (n_ports) {
		s->ports = (struct obj_service_port *)(void *)p;
		p += n_ports * sizeof(*s->ports);
	}
	if (n_ingress) {
		s->ingress = (struct ip_addr *)(void *)p;
		p += n_ingress * sizeof(struct ip_addr);
	}
	if (n_external) {
		s->external = (struct ip_addr *)(void *)p;
		p += n_external * sizeof(struct ip_addr);
	}
	if (n_cluster) {
		s->cluster_ips = (struct ip_addr *)(void *)p;
		p += n_cluster * sizeof(struct ip_addr);
	}
	s->ns = memcpy(p, ns, l_ns);
	s->name = memcpy(p + l_ns, name, l_name);
	s->uid = memcpy(p + l_ns + l_name, uid, l_uid);
	return s;
}

int obj_service_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	struct obj_decode_ctx *ctx = ud;
	const char *lb_class = ctx && ctx->lb_class ? ctx->lb_class : OBJ_DEFAULT_LB_CLASS;
	struct obj_service *s = NULL;
	struct kube_meta m;
	json_t *spec, *status, *lb, *ingress, *ext, *ports, *cips;
	const char *type, *cls, *etp, *cip_one;
	bool bad = false, lbc;
	size_t i, n_cips;
	int r;

	r = kube_meta_get(obj, true, false, &m, ret_why);
	if (r < 0)
		return -EBADMSG;
	spec = get_typed(obj, "spec", JSON_OBJECT, &bad);
	if (bad)
		FAIL("spec: not an object");
	type = get_str(spec, "type", &bad);
	if (bad)
		FAIL("spec.type: not a string");
	cls = get_str(spec, "loadBalancerClass", &bad);
	if (bad)
		FAIL("spec.loadBalancerClass: not a string");
	etp = get_str(spec, "externalTrafficPolicy", &bad);
	if (bad)
		FAIL("spec.externalTrafficPolicy: not a string");
	ext = get_typed(spec, "externalIPs", JSON_ARRAY, &bad);
	if (bad)
		FAIL("spec.externalIPs: not an array");
	ports = get_typed(spec, "ports", JSON_ARRAY, &bad);
	if (bad)
		FAIL("spec.ports: not an array");
	status = get_typed(obj, "status", JSON_OBJECT, &bad);
	if (bad)
		FAIL("status: not an object");
	lb = get_typed(status, "loadBalancer", JSON_OBJECT, &bad);
	if (bad)
		FAIL("status.loadBalancer: not an object");
	ingress = get_typed(lb, "ingress", JSON_ARRAY, &bad);
	if (bad)
		FAIL("status.loadBalancer.ingress: not an array");

	lbc = type && strcmp(type, "LoadBalancer") == 0 && (!cls || strcmp(cls, lb_class) == 0);
	if (!lbc && json_array_size(ext) == 0)
		return INFORMER_SKIP;
	r = service_cluster_ips_find(spec, &cips, &cip_one, &n_cips, ret_why);
	if (r < 0)
		return r;
	s = service_alloc(&m, json_array_size(ports), lbc ? json_array_size(ingress) : 0,
			  json_array_size(ext), n_cips);
	if (!s)
		return -ENOMEM;
	s->load_balancer = lbc;
	s->local = etp && strcmp(etp, "Local") == 0;
	if (s->load_balancer) {
		for (i = 0; i < json_array_size(ingress); i++) {
			json_t *e = json_array_get(ingress, i);
			const char *ip;

			if (!json_is_object(e))
				FAIL("status.loadBalancer.ingress[]: not an object");
			ip = get_str(e, "ip", &bad);
			if (bad)
				FAIL("status.loadBalancer.ingress[].ip: not a string");
			if (!ip)
				continue; /* hostname-only entries: nothing to announce */
			if (ip_parse(ip, &s->ingress[s->n_ingress], NULL) < 0)
				FAIL("status.loadBalancer.ingress[].ip: not an IP address");
			s->n_ingress++;
		}
	}
	for (i = 0; i < json_array_size(ext); i++) {
		json_t *e = json_array_get(ext, i);

		if (!json_is_string(e))
			FAIL("spec.externalIPs[]: not a string");
		if (ip_parse(json_string_value(e), &s->external[s->n_external], NULL) < 0)
			FAIL("spec.externalIPs[]: not an IP address");
		s->n_external++;
	}
	for (i = 0; i < json_array_size(ports); i++) {
		r = service_port_decode(json_array_get(ports, i), &s->ports[s->n_ports], ret_why);
		if (r < 0)
			goto fail;
		s->n_ports++;
	}
	r = service_cluster_ips_decode(cips, cip_one, n_cips, s, ret_why);
	if (r < 0)
		goto fail;
	if (!s->n_ingress)
		s->ingress = NULL;
	if (!s->n_cluster_ips)
		s->cluster_ips = NULL;
	*ret_item = s;
	return 0;
fail:
	obj_service_free(s, NULL);
	return r;
}

/* ---- EndpointSlices ---- */

void obj_slice_free(void *item, void *ud)
{
	(void)ud;
	free(item); /* one allocation: see obj_slice_decode() */
}

static int cond_bool(json_t *conds, const char *key, bool dflt, bool *ret)
{
	json_t *v = json_is_object(conds) ? json_object_get(conds, key) : NULL;

	if (!v || json_is_null(v)) {
		*ret = dflt;
		return 0;
	}
	if (!json_is_boolean(v))
		return -EBADMSG;
	*ret = json_is_true(v);
	return 0;
}

/* The copy of node made for one of the 16 endpoints before endpoint i, or
 * NULL: a slice's endpoints mostly run on a few nodes, so they share it
 * (looking back only so far keeps a slice of 1,000 endpoints linear). */
static char *slice_node_seen(const struct obj_slice *s, size_t i, const char *node)
{
	for (size_t j = i; j > 0 && i - j < 16; j--)
		if (s->eps[j - 1].node && strcmp(s->eps[j - 1].node, node) == 0)
			return s->eps[j - 1].node;
	return NULL;
}

/* An EndpointSlice is one allocation: the struct, its endpoints, then the
 * namespace, the Service name and each distinct node name. */
int obj_slice_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	struct obj_slice *s = NULL;
	struct kube_meta m;
	json_t *eps;
	const char *svc;
	bool bad = false;
	size_t i, n, size, l_ns, l_svc;
	char *p;
	int r;

	(void)ud;
	r = kube_meta_get(obj, true, false, &m, ret_why);
	if (r < 0)
		return -EBADMSG;
	if (m.labels && !json_is_object(m.labels)) {
		*ret_why = "metadata.labels: not an object";
		return -EBADMSG;
	}
	svc = get_str(m.labels, KUBE_LABEL_SERVICE_NAME, &bad);
	if (bad) {
		*ret_why = "metadata.labels[kubernetes.io/service-name]: not a string";
		return -EBADMSG;
	}
	if (!svc)
		return INFORMER_SKIP;
	eps = get_typed(obj, "endpoints", JSON_ARRAY, &bad);
	if (bad) {
		*ret_why = "endpoints: not an array";
		return -EBADMSG;
	}
	/* First pass: check the endpoints and size the allocation. */
	n = json_array_size(eps);
	l_ns = strlen(m.ns ? m.ns : "") + 1;
	l_svc = strlen(svc) + 1;
	size = sizeof(*s) + n * sizeof(*s->eps) + l_ns + l_svc;
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(eps, i), *conds;
		const char *node;
		bool ready, serving;

		if (!json_is_object(e))
			FAIL("endpoints[]: not an object");
		conds = get_typed(e, "conditions", JSON_OBJECT, &bad);
		if (bad)
			FAIL("endpoints[].conditions: not an object");
		node = get_str(e, "nodeName", &bad);
		if (bad)
			FAIL("endpoints[].nodeName: not a string");
		/* A missing ready condition means ready (EndpointSlice API). */
		if (cond_bool(conds, "ready", true, &ready) < 0)
			FAIL("endpoints[].conditions.ready: not a boolean");
		if (cond_bool(conds, "serving", ready, &serving) < 0)
			FAIL("endpoints[].conditions.serving: not a boolean");
		if (node)
			size += strlen(node) + 1; /* an upper bound: duplicates are shared */
	}
	s = calloc(1, size);
	if (!s)
		return -ENOMEM;
	p = (char *)(s + 1);
	if (n) {
		s->eps = (struct obj_endpoint *)(void *)p;
		p += n * sizeof(*s->eps);
	}
	s->ns = memcpy(p, m.ns ? m.ns : "", l_ns);
	s->service = memcpy(p + l_ns, svc, l_svc);
	p += l_ns + l_svc;
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(eps, i);
		json_t *conds = get_typed(e, "conditions", JSON_OBJECT, &bad);
		struct obj_endpoint *ep = &s->eps[i];
		const char *node = get_str(e, "nodeName", &bad);

		/* Checked by the first pass. */
		cond_bool(conds, "ready", true, &ep->ready);
		cond_bool(conds, "serving", ep->ready, &ep->serving);
		if (node && !(ep->node = slice_node_seen(s, i, node))) {
			size_t l = strlen(node) + 1;

			ep->node = memcpy(p, node, l);
			p += l;
		}
		s->n_eps++;
	}
	*ret_item = s;
	return 0;
fail:
	obj_slice_free(s, NULL);
	return r;
}

/* ---- Nodes ---- */

void obj_node_free(void *item, void *ud)
{
	struct obj_node *n = item;

	(void)ud;
	if (!n)
		return;
	free(n->name);
	labels_free(n->labels);
	free(n);
}

int obj_node_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	struct obj_node *n = NULL;
	struct kube_meta m;
	json_t *status, *conds, *addrs;
	bool bad = false;
	size_t i;
	int r;

	(void)ud;
	r = kube_meta_get(obj, true, false, &m, ret_why);
	if (r < 0)
		return -EBADMSG;
	status = get_typed(obj, "status", JSON_OBJECT, &bad);
	if (bad) {
		*ret_why = "status: not an object";
		return -EBADMSG;
	}
	conds = get_typed(status, "conditions", JSON_ARRAY, &bad);
	if (bad) {
		*ret_why = "status.conditions: not an array";
		return -EBADMSG;
	}
	addrs = get_typed(status, "addresses", JSON_ARRAY, &bad);
	if (bad) {
		*ret_why = "status.addresses: not an array";
		return -EBADMSG;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(m.name)))
		goto nomem;
	if (labels_from_json(m.labels, "metadata.labels", &n->labels, NULL, 0) < 0)
		FAIL("metadata.labels: not an object of strings");
	n->exclude =
		labels_get(n->labels, "node.kubernetes.io/exclude-from-external-load-balancers");
	for (i = 0; i < json_array_size(conds); i++) {
		json_t *c = json_array_get(conds, i);
		const char *type, *st;

		if (!json_is_object(c))
			FAIL("status.conditions[]: not an object");
		type = get_str(c, "type", &bad);
		st = get_str(c, "status", &bad);
		if (bad)
			FAIL("status.conditions[].type/status: not a string");
		if (type && st && strcmp(type, "NetworkUnavailable") == 0)
			n->network_unavailable = strcmp(st, "True") == 0;
	}
	for (i = 0; i < json_array_size(addrs); i++) {
		json_t *a = json_array_get(addrs, i);
		const char *type, *addr;

		if (!json_is_object(a))
			FAIL("status.addresses[]: not an object");
		type = get_str(a, "type", &bad);
		addr = get_str(a, "address", &bad);
		if (bad)
			FAIL("status.addresses[].type/address: not a string");
		if (!n->has_addr && type && addr && strcmp(type, "InternalIP") == 0 &&
		    ip_parse(addr, &n->addr, NULL) == 0)
			n->has_addr = true;
	}
	*ret_item = n;
	return 0;
nomem:
	obj_node_free(n, NULL);
	return -ENOMEM;
fail:
	obj_node_free(n, NULL);
	return r;
}

/* ---- IPAddressPools ---- */

void obj_pool_free(void *item, void *ud)
{
	struct obj_pool *p = item;

	(void)ud;
	if (!p)
		return;
	free(p->name);
	free(p->uid);
	labels_free(p->labels);
	free(p->ranges);
	free(p);
}

/* status.nextIPv4 / nextIPv6: only a hint for probing ahead, so a bad one is
 * dropped with a log line and never costs the pool. */
static void pool_next_decode(struct obj_pool *p, json_t *status)
{
	static const char *const fields[2] = { "nextIPv4", "nextIPv6" };

	for (int f = 0; f < 2; f++) {
		json_t *v = json_is_object(status) ? json_object_get(status, fields[f]) : NULL;
		const char *why = NULL;
		struct ip_addr a;

		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v))
			why = "not a string";
		else if (ip_parse(json_string_value(v), &a, NULL) < 0)
			why = "not an IP address";
		else if (a.family != (f ? AF_INET6 : AF_INET))
			why = f ? "not an IPv6 address" : "not an IPv4 address";
		else if (!obj_pool_contains(p, &a))
			why = "outside spec.addresses";
		if (why) {
			char field[32];

			snprintf(field, sizeof(field), "status.%s", fields[f]);
			log_warn("objects", "IPAddressPool: ignoring a bad next address",
				 LF_STR("pool", p->name), LF_STR("field", field),
				 LF_STR("reason", why));
			continue;
		}
		p->next[p->n_next++] = a;
	}
}

int obj_pool_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	struct obj_pool *p = NULL;
	struct kube_meta m;
	json_t *spec, *addrs, *allow;
	bool bad = false;
	size_t i;
	int r;

	(void)ud;
	r = kube_meta_get(obj, true, false, &m, ret_why);
	if (r < 0)
		return -EBADMSG;
	spec = get_typed(obj, "spec", JSON_OBJECT, &bad);
	if (bad) {
		*ret_why = "spec: not an object";
		return -EBADMSG;
	}
	addrs = get_typed(spec, "addresses", JSON_ARRAY, &bad);
	if (bad) {
		*ret_why = "spec.addresses: not an array";
		return -EBADMSG;
	}
	allow = json_is_object(spec) ? json_object_get(spec, "allowExternalIPs") : NULL;
	if (allow && !json_is_null(allow) && !json_is_boolean(allow)) {
		*ret_why = "spec.allowExternalIPs: not a boolean";
		return -EBADMSG;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->name = strdup(m.name)) || !(p->uid = strdup(m.uid ? m.uid : "")))
		goto nomem;
	p->allow_external = json_is_true(allow);
	if (labels_from_json(m.labels, "metadata.labels", &p->labels, NULL, 0) < 0)
		FAIL("metadata.labels: not an object of strings");
	if (json_array_size(addrs)) {
		p->ranges = calloc(json_array_size(addrs), sizeof(*p->ranges));
		if (!p->ranges)
			goto nomem;
	}
	for (i = 0; i < json_array_size(addrs); i++) {
		json_t *e = json_array_get(addrs, i);

		if (!json_is_string(e))
			FAIL("spec.addresses[]: not a string");
		if (range_parse(json_string_value(e), &p->ranges[p->n_ranges], NULL) < 0)
			FAIL("spec.addresses[]: not a CIDR, range or address");
		p->n_ranges++;
	}
	pool_next_decode(p, json_object_get(obj, "status"));
	*ret_item = p;
	return 0;
nomem:
	obj_pool_free(p, NULL);
	return -ENOMEM;
fail:
	obj_pool_free(p, NULL);
	return r;
}

bool obj_pool_contains(const struct obj_pool *p, const struct ip_addr *a)
{
	for (size_t i = 0; i < p->n_ranges; i++)
		if (range_contains(&p->ranges[i], a))
			return true;
	return false;
}

/* ---- L2Advertisements ---- */

static void sel_array_free(struct selector **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		selector_free(v[i]);
	free(v);
}

void obj_l2adv_free(void *item, void *ud)
{
	struct obj_l2adv *a = item;

	(void)ud;
	if (!a)
		return;
	free(a->name);
	str_array_free(a->pools, a->n_pools);
	sel_array_free(a->pool_sel, a->n_pool_sel);
	sel_array_free(a->node_sel, a->n_node_sel);
	str_array_free(a->ifnames, a->n_ifnames);
	free(a);
}

static int sel_array(json_t *arr, const char *path, struct selector ***ret, size_t *ret_n)
{
	size_t i, n = json_array_size(arr);
	struct selector **v;

	*ret = NULL;
	*ret_n = 0;
	if (!n)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		int r = selector_parse(json_array_get(arr, i), path, &v[i], NULL, 0);

		if (r < 0) {
			sel_array_free(v, i);
			return r;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int obj_l2adv_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	struct obj_l2adv *a = NULL;
	struct kube_meta m;
	json_t *spec, *pools, *psel, *nsel, *ifs;
	bool bad = false;
	int r;

	(void)ud;
	r = kube_meta_get(obj, true, false, &m, ret_why);
	if (r < 0)
		return -EBADMSG;
	spec = get_typed(obj, "spec", JSON_OBJECT, &bad);
	if (bad) {
		*ret_why = "spec: not an object";
		return -EBADMSG;
	}
	a = calloc(1, sizeof(*a));
	if (!a || !(a->name = strdup(m.name)))
		goto nomem;
	pools = get_typed(spec, "ipAddressPools", JSON_ARRAY, &bad);
	if (bad || str_array(pools, &a->pools, &a->n_pools) == -EBADMSG)
		FAIL("spec.ipAddressPools: not an array of strings");
	psel = get_typed(spec, "ipAddressPoolSelectors", JSON_ARRAY, &bad);
	if (bad ||
	    sel_array(psel, "spec.ipAddressPoolSelectors", &a->pool_sel, &a->n_pool_sel) == -EINVAL)
		FAIL("spec.ipAddressPoolSelectors: not an array of label selectors");
	nsel = get_typed(spec, "nodeSelectors", JSON_ARRAY, &bad);
	if (bad || sel_array(nsel, "spec.nodeSelectors", &a->node_sel, &a->n_node_sel) == -EINVAL)
		FAIL("spec.nodeSelectors: not an array of label selectors");
	ifs = get_typed(spec, "interfaces", JSON_ARRAY, &bad);
	if (bad || str_array(ifs, &a->ifnames, &a->n_ifnames) == -EBADMSG)
		FAIL("spec.interfaces: not an array of strings");
	*ret_item = a;
	return 0;
nomem:
	obj_l2adv_free(a, NULL);
	return -ENOMEM;
fail:
	obj_l2adv_free(a, NULL);
	return r;
}

bool obj_l2adv_selects_pool(const struct obj_l2adv *adv, const struct obj_pool *p)
{
	size_t i;

	if (!adv->n_pools && !adv->n_pool_sel)
		return true;
	for (i = 0; i < adv->n_pools; i++)
		if (strcmp(adv->pools[i], p->name) == 0)
			return true;
	for (i = 0; i < adv->n_pool_sel; i++)
		if (selector_matches(adv->pool_sel[i], p->labels))
			return true;
	return false;
}

bool obj_l2adv_selects_node(const struct obj_l2adv *adv, const struct obj_node *n)
{
	if (!adv->n_node_sel)
		return true;
	for (size_t i = 0; i < adv->n_node_sel; i++)
		if (selector_matches(adv->node_sel[i], n ? n->labels : NULL))
			return true;
	return false;
}

/* ---- Leases ---- */

void obj_lease_free(void *item, void *ud)
{
	struct obj_lease *l = item;

	(void)ud;
	if (!l)
		return;
	free(l->name);
	free(l->holder);
	free(l);
}

int obj_parse_mac(const char *s, uint8_t ret[6])
{
	unsigned b[6];
	char tail;

	if (!s ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 ||
	    strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		ret[i] = (uint8_t)b[i];
	return 0;
}

int obj_parse_hostport(const char *s, uint16_t default_port, struct sockaddr_storage *ret,
		       socklen_t *ret_len)
{
	char host[IP_INPUT_MAX + 1];
	const char *port = NULL;
	struct ip_addr a;
	unsigned long p = default_port;
	size_t len;

	if (!s || !*s || strlen(s) > IP_INPUT_MAX)
		return -EINVAL;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		len = (size_t)(end - s - 1);
		memcpy(host, s + 1, len);
		host[len] = 0;
		if (end[1] == ':')
			port = end + 2;
	} else {
		const char *colon = strchr(s, ':');

		if (colon && !strchr(colon + 1, ':')) { /* exactly one ':': IPv4:port */
			len = (size_t)(colon - s);
			memcpy(host, s, len);
			host[len] = 0;
			port = colon + 1;
		} else {
			strcpy(host, s);
		}
	}
	if (ip_parse(host, &a, NULL) < 0)
		return -EINVAL;
	if (port) {
		char *end;

		if (!*port)
			return -EINVAL;
		errno = 0;
		p = strtoul(port, &end, 10);
		if (*end || errno || p > 65535)
			return -EINVAL;
	}
	memset(ret, 0, sizeof(*ret));
	if (a.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ret;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		memcpy(&sin->sin_addr, a.bytes, 4);
		*ret_len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ret;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		memcpy(&sin6->sin6_addr, a.bytes, 16);
		*ret_len = sizeof(*sin6);
	}
	return 0;
}

int obj_parse_time(const char *s, uint64_t *ret_us)
{
	struct tm tm = { 0 };
	const char *p;
	uint64_t frac = 0, scale = 1000000;
	time_t t;

	if (!s)
		return -EINVAL;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
			p++;
		}
	}
	if (strcmp(p, "Z") != 0)
		return -EINVAL;
	t = timegm(&tm);
	if (t < 0)
		return -EINVAL;
	*ret_us = (uint64_t)t * 1000000 + frac;
	return 0;
}

_Static_assert(OBJ_MAX_PREFIXES == 32, "the reason text below names the bound");

/* The annotation's "prefixes", never failing the Lease: a malformed list
 * is dropped whole (has_prefixes false) with prefixes_why saying why. */
static void lease_prefixes(struct obj_lease *l, json_t *v)
{
	size_t n = json_array_size(v);

	if (!v || json_is_null(v))
		return;
	if (!json_is_array(v)) {
		l->prefixes_why = "metadata.annotations[ironlb.io/speaker].prefixes: not an array";
		return;
	}
	if (n > OBJ_MAX_PREFIXES) {
		l->prefixes_why = "metadata.annotations[ironlb.io/speaker].prefixes: more than "
				  "32 entries";
		return;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(v, i);

		if (!json_is_string(e) ||
		    prefix_parse(json_string_value(e), &l->prefixes[i], NULL) < 0) {
			l->n_prefixes = 0;
			l->prefixes_why =
				"metadata.annotations[ironlb.io/speaker].prefixes[]: not a "
				"prefix (CIDR)";
			return;
		}
	}
	l->n_prefixes = n;
	l->has_prefixes = true;
}

bool obj_lease_can_announce(const struct obj_lease *l, const struct ip_addr *a)
{
	if (!l || !l->has_prefixes)
		return true;
	for (size_t i = 0; i < l->n_prefixes; i++)
		if (prefix_contains(&l->prefixes[i], a))
			return true;
	return false;
}

bool obj_lease_same_but_renewal(const struct obj_lease *a, const struct obj_lease *b)
{
	if (!a || !b || strcmp(a->holder, b->holder) != 0 || a->has_hb != b->has_hb ||
	    a->duration_s != b->duration_s || a->n_macs != b->n_macs ||
	    a->has_prefixes != b->has_prefixes || a->n_prefixes != b->n_prefixes ||
	    a->prefixes_why != b->prefixes_why)
		return false;
	if (a->has_hb && (a->hb_len != b->hb_len || memcmp(&a->hb, &b->hb, a->hb_len) != 0))
		return false;
	for (size_t i = 0; i < a->n_macs; i++)
		if (memcmp(a->macs[i], b->macs[i], 6) != 0)
			return false;
	for (size_t i = 0; i < a->n_prefixes; i++)
		if (a->prefixes[i].len != b->prefixes[i].len ||
		    !ip_equal(&a->prefixes[i].addr, &b->prefixes[i].addr))
			return false;
	return true;
}

int obj_lease_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	struct obj_lease *l = NULL;
	struct kube_meta m;
	json_t *spec, *dur, *ann, *macs;
	const char *holder, *renew, *comp, *annv, *hb;
	bool bad = false;
	int r;

	(void)ud;
	r = kube_meta_get(obj, true, false, &m, ret_why);
	if (r < 0)
		return -EBADMSG;
	comp = get_str(m.labels, OBJ_SPEAKER_COMPONENT_LABEL, &bad);
	if (bad) {
		*ret_why = "metadata.labels[app.kubernetes.io/component]: not a string";
		return -EBADMSG;
	}
	if (!(comp && strcmp(comp, "speaker") == 0) &&
	    strncmp(m.name, OBJ_SPEAKER_LEASE_PREFIX, strlen(OBJ_SPEAKER_LEASE_PREFIX)) != 0)
		return INFORMER_SKIP;
	spec = get_typed(obj, "spec", JSON_OBJECT, &bad);
	if (bad) {
		*ret_why = "spec: not an object";
		return -EBADMSG;
	}
	holder = get_str(spec, "holderIdentity", &bad);
	if (bad) {
		*ret_why = "spec.holderIdentity: not a string";
		return -EBADMSG;
	}
	if (!holder || !*holder)
		return INFORMER_SKIP; /* released */
	renew = get_str(spec, "renewTime", &bad);
	if (bad) {
		*ret_why = "spec.renewTime: not a string";
		return -EBADMSG;
	}
	dur = json_object_get(spec, "leaseDurationSeconds");
	if (dur && !json_is_null(dur) && !json_is_integer(dur)) {
		*ret_why = "spec.leaseDurationSeconds: not an integer";
		return -EBADMSG;
	}
	l = calloc(1, sizeof(*l));
	if (!l || !(l->name = strdup(m.name)) || !(l->holder = strdup(holder)))
		goto nomem;
	if (renew && obj_parse_time(renew, &l->renew_wall_us) < 0)
		FAIL("spec.renewTime: not an RFC 3339 time");
	l->duration_s = dur && json_integer_value(dur) > 0 ? (uint32_t)json_integer_value(dur) : 15;
	annv = get_str(m.annotations, OBJ_SPEAKER_ANNOTATION, &bad);
	if (bad)
		FAIL("metadata.annotations[ironlb.io/speaker]: not a string");
	if (annv) {
		ann = json_loads(annv, 0, NULL); /* new reference */
		if (!json_is_object(ann)) {
			json_decref(ann);
			FAIL("metadata.annotations[ironlb.io/speaker]: not a JSON object");
		}
		hb = get_str(ann, "heartbeat", &bad);
		macs = get_typed(ann, "macs", JSON_ARRAY, &bad);
		if (bad || (hb && obj_parse_hostport(hb, 7482, &l->hb, &l->hb_len) < 0)) {
			json_decref(ann);
			FAIL("metadata.annotations[ironlb.io/speaker].heartbeat: not IP:PORT");
		}
		l->has_hb = hb != NULL;
		lease_prefixes(l, json_object_get(ann, "prefixes"));
		for (size_t i = 0; i < json_array_size(macs) && l->n_macs < OBJ_MAX_MACS; i++) {
			json_t *e = json_array_get(macs, i);

			if (!json_is_string(e) ||
			    obj_parse_mac(json_string_value(e), l->macs[l->n_macs]) < 0) {
				json_decref(ann);
				FAIL("metadata.annotations[ironlb.io/speaker].macs[]: not a MAC");
			}
			l->n_macs++;
		}
		json_decref(ann);
	}
	*ret_item = l;
	return 0;
nomem:
	obj_lease_free(l, NULL);
	return -ENOMEM;
fail:
	obj_lease_free(l, NULL);
	return r;
}
