/* Decoding a core/v1 Service into the compact struct the allocator keeps
 * (see service.h).
 *
 * The controller keeps one struct service per Service it may act on, so it
 * holds only what allocation needs: spec.selector, for instance, shrinks to
 * a 64-bit hash because sharing only asks whether two selectors are equal.
 */
#include "service.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAMESPACE_MAX 63
#define NAME_MAX_LEN 253

/* Annotation keys by precedence: ironlb's own form first. */
static const char *const lb_ips_keys[] = {
	SERVICE_ANNOT_LB_IPS,
	"metallb.io/loadBalancerIPs",
	"metallb.universe.tf/loadBalancerIPs",
};
static const char *const pool_keys[] = {
	SERVICE_ANNOT_POOL,
	"metallb.io/address-pool",
	"metallb.universe.tf/address-pool",
};
static const char *const shared_keys[] = {
	SERVICE_ANNOT_SHARED,
	"metallb.io/allow-shared-ip",
	"metallb.universe.tf/allow-shared-ip",
};
#define NKEYS 3

/* Decoding context: the error buffer travels with it. */
struct dec {
	char *err;
	size_t errlen;
};

static int dec_fail(struct dec *d, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int dec_fail(struct dec *d, int r, const char *fmt, ...)
{
	va_list ap;

	if (d->err && d->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(d->err, d->errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

static int dec_nomem(struct dec *d)
{
	return dec_fail(d, -ENOMEM, "out of memory");
}

/* Optional member of an object: NULL when absent or JSON null. */
static json_t *member(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key); /* borrowed */

	return json_is_null(v) ? NULL : v;
}

/* Optional string member: *ret NULL when absent or null. */
static int opt_string(struct dec *d, const json_t *o, const char *key, const char *path,
		      const char **ret)
{
	json_t *v = member(o, key);

	*ret = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return dec_fail(d, -EINVAL, "%s: not a string", path);
	*ret = json_string_value(v);
	return 0;
}

/* Optional object member: *ret NULL when absent or null. */
static int opt_object(struct dec *d, const json_t *o, const char *key, const char *path,
		      json_t **ret)
{
	json_t *v = member(o, key);

	*ret = NULL;
	if (v && !json_is_object(v))
		return dec_fail(d, -EINVAL, "%s: not an object", path);
	*ret = v;
	return 0;
}

static int opt_array(struct dec *d, const json_t *o, const char *key, const char *path,
		     json_t **ret)
{
	json_t *v = member(o, key);

	*ret = NULL;
	if (v && !json_is_array(v))
		return dec_fail(d, -EINVAL, "%s: not an array", path);
	*ret = v;
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int service_parse_time(const char *s, int64_t *ret)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec;
	const char *p;

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
			return -EINVAL;
	}
	p = s + sizeof(shape) - 1;
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return -EINVAL;
		for (int n = 0; is_digit(*p); p++, n++)
			if (n >= 9)
				return -EINVAL;
	}
	if (p[0] != 'Z' || p[1] != '\0')
		return -EINVAL;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 60)
		return -EINVAL;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -EINVAL;
	*ret = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

/* Picks the first non-empty annotation among keys (by precedence). *ret_idx
 * is the index of the key used. A value of the wrong type is an error. */
static int annotation_pick(struct dec *d, const json_t *annots, const char *const keys[NKEYS],
			   const char **ret, int *ret_idx)
{
	*ret = NULL;
	*ret_idx = -1;
	if (!annots)
		return 0;
	for (int i = 0; i < NKEYS; i++) {
		json_t *v = member(annots, keys[i]);

		if (!v)
			continue;
		if (!json_is_string(v))
			return dec_fail(d, -EINVAL, "metadata.annotations.%s: not a string",
					keys[i]);
		if (json_string_length(v) == 0 || *ret)
			continue;
		*ret = json_string_value(v);
		*ret_idx = i;
	}
	return 0;
}

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/* Sets req->error to a formatted message; -ENOMEM if that fails. */
static int req_error(struct service_request *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int req_error(struct service_request *req, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&req->error, fmt, ap);
	va_end(ap);
	if (n < 0) {
		req->error = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Parses the loadBalancerIPs annotation: a comma-separated list of at most
 * one address per family; blanks around entries are allowed. */
static int parse_lb_ips(struct service_request *req, const char *key, const char *value)
{
	struct ip_addr addrs[2];
	unsigned n = 0;
	const char *p = value;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char item[IP_INPUT_MAX + 1];
		const char *why = NULL;
		struct ip_addr a;

		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0)
			return req_error(req, "%s: \"%.100s\": empty entry", key, value);
		if (len > IP_INPUT_MAX)
			return req_error(req, "%s: \"%.100s\": entry too long", key, value);
		memcpy(item, p, len);
		item[len] = '\0';
		if (ip_parse(item, &a, &why) < 0)
			return req_error(req, "%s: \"%s\": %s", key, item, why);
		if (n == 2)
			return req_error(req, "%s: \"%.100s\": more than two addresses", key,
					 value);
		if (n == 1 && addrs[0].family == a.family)
			return req_error(req,
					 "%s: \"%.100s\": two %s addresses; at most one per family",
					 key, value, family_name(a.family));
		addrs[n++] = a;
		if (!end)
			break;
		p = end + 1;
	}
	memcpy(req->addrs, addrs, sizeof(addrs));
	req->naddrs = (uint8_t)n;
	return 0;
}

static int decode_request(struct dec *d, struct service *s, const json_t *annots, const char *lb_ip)
{
	struct service_request *req = &s->req;
	const char *ips, *pool, *shared;
	int ips_idx, pool_idx, shared_idx, r;

	r = annotation_pick(d, annots, lb_ips_keys, &ips, &ips_idx);
	if (r == 0)
		r = annotation_pick(d, annots, pool_keys, &pool, &pool_idx);
	if (r == 0)
		r = annotation_pick(d, annots, shared_keys, &shared, &shared_idx);
	if (r < 0)
		return r;
	if (ips_idx > 0)
		s->deprecated |= SERVICE_DEPRECATED_LB_IPS;
	if (pool_idx > 0)
		s->deprecated |= SERVICE_DEPRECATED_POOL;
	if (shared_idx > 0)
		s->deprecated |= SERVICE_DEPRECATED_SHARED;
	if (pool) {
		req->pool = strdup(pool);
		if (!req->pool)
			return dec_nomem(d);
		req->pool_from = pool_keys[pool_idx];
	}
	if (shared) {
		s->sharing_key = strdup(shared);
		if (!s->sharing_key)
			return dec_nomem(d);
		s->sharing_from = shared_keys[shared_idx];
	}
	if (lb_ip && *lb_ip == '\0')
		lb_ip = NULL;

	if (lb_ip && ips) {
		r = req_error(req, "spec.loadBalancerIP and %s are both set; use only %s",
			      lb_ips_keys[ips_idx], SERVICE_ANNOT_LB_IPS);
	} else if (lb_ip) {
		const char *why = NULL;
		struct ip_addr a;

		req->addrs_from = "spec.loadBalancerIP";
		if (ip_parse(lb_ip, &a, &why) < 0) {
			r = req_error(req, "spec.loadBalancerIP: \"%.100s\": %s", lb_ip, why);
		} else {
			req->addrs[0] = a;
			req->naddrs = 1;
		}
	} else if (ips) {
		req->addrs_from = lb_ips_keys[ips_idx];
		r = parse_lb_ips(req, lb_ips_keys[ips_idx], ips);
	}
	return r < 0 ? dec_nomem(d) : 0;
}

static int decode_families(struct dec *d, struct service *s, const json_t *spec)
{
	json_t *fams;
	const char *policy;
	size_t i;
	int r;

	r = opt_array(d, spec, "ipFamilies", "spec.ipFamilies", &fams);
	if (r < 0)
		return r;
	if (fams) {
		if (json_array_size(fams) > 2)
			return dec_fail(d, -EINVAL, "spec.ipFamilies: more than two families");
		for (i = 0; i < json_array_size(fams); i++) {
			json_t *f = json_array_get(fams, i); /* borrowed */
			int family;

			if (!json_is_string(f))
				return dec_fail(d, -EINVAL, "spec.ipFamilies[%zu]: not a string",
						i);
			if (strcmp(json_string_value(f), "IPv4") == 0)
				family = AF_INET;
			else if (strcmp(json_string_value(f), "IPv6") == 0)
				family = AF_INET6;
			else
				return dec_fail(
					d, -EINVAL,
					"spec.ipFamilies[%zu]: \"%.40s\" is not IPv4 or IPv6", i,
					json_string_value(f));
			if (i == 1 && s->families[0] == family)
				return dec_fail(d, -EINVAL, "spec.ipFamilies[1]: duplicate family");
			s->families[i] = (uint8_t)family;
		}
		s->nfamilies = (uint8_t)i;
	}
	r = opt_string(d, spec, "ipFamilyPolicy", "spec.ipFamilyPolicy", &policy);
	if (r < 0)
		return r;
	if (!policy)
		s->family_policy = SERVICE_POLICY_UNSET;
	else if (strcmp(policy, "SingleStack") == 0)
		s->family_policy = SERVICE_SINGLE_STACK;
	else if (strcmp(policy, "PreferDualStack") == 0)
		s->family_policy = SERVICE_PREFER_DUAL_STACK;
	else if (strcmp(policy, "RequireDualStack") == 0)
		s->family_policy = SERVICE_REQUIRE_DUAL_STACK;
	else
		return dec_fail(d, -EINVAL,
				"spec.ipFamilyPolicy: \"%.40s\" is not SingleStack, "
				"PreferDualStack or RequireDualStack",
				policy);
	return 0;
}

static int decode_ports(struct dec *d, struct service *s, const json_t *spec)
{
	json_t *ports;
	size_t n;
	int r;

	r = opt_array(d, spec, "ports", "spec.ports", &ports);
	if (r < 0 || !ports)
		return r;
	n = json_array_size(ports);
	if (n == 0)
		return 0;
	s->ports = calloc(n, sizeof(s->ports[0]));
	if (!s->ports)
		return dec_nomem(d);
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(ports, i); /* borrowed */
		json_t *port;
		const char *proto;
		json_int_t v;
		char path[64];

		if (!json_is_object(p))
			return dec_fail(d, -EINVAL, "spec.ports[%zu]: not an object", i);
		port = member(p, "port");
		if (!port)
			return dec_fail(d, -EINVAL, "spec.ports[%zu].port: missing", i);
		if (!json_is_integer(port))
			return dec_fail(d, -EINVAL, "spec.ports[%zu].port: not an integer", i);
		v = json_integer_value(port);
		if (v < 1 || v > 65535)
			return dec_fail(d, -EINVAL,
					"spec.ports[%zu].port: %lld out of range 1-65535", i,
					(long long)v);
		snprintf(path, sizeof(path), "spec.ports[%zu].protocol", i);
		r = opt_string(d, p, "protocol", path, &proto);
		if (r < 0)
			return r;
		if (!proto || strcmp(proto, "TCP") == 0)
			s->ports[i].protocol = SERVICE_TCP;
		else if (strcmp(proto, "UDP") == 0)
			s->ports[i].protocol = SERVICE_UDP;
		else if (strcmp(proto, "SCTP") == 0)
			s->ports[i].protocol = SERVICE_SCTP;
		else
			return dec_fail(d, -EINVAL, "%s: \"%.40s\" is not TCP, UDP or SCTP", path,
					proto);
		s->ports[i].port = (uint16_t)v;
		s->nports = i + 1;
	}
	return 0;
}

static int decode_external_ips(struct dec *d, struct service *s, const json_t *spec)
{
	json_t *ext;
	size_t n;
	int r;

	r = opt_array(d, spec, "externalIPs", "spec.externalIPs", &ext);
	if (r < 0 || !ext)
		return r;
	n = json_array_size(ext);
	if (n == 0)
		return 0;
	s->external = calloc(n, sizeof(s->external[0]));
	if (!s->external)
		return dec_nomem(d);
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(ext, i); /* borrowed */
		struct ip_addr a;

		if (!json_is_string(v))
			return dec_fail(d, -EINVAL, "spec.externalIPs[%zu]: not a string", i);
		/* Not an address: kept as family 0 so the allocator can say so. */
		if (ip_parse(json_string_value(v), &a, NULL) == 0)
			s->external[i].addr = a;
		s->nexternal = i + 1;
	}
	return 0;
}

static int decode_status(struct dec *d, struct service *s, const json_t *obj)
{
	json_t *status, *lb, *ingress;
	size_t n;
	int r;

	r = opt_object(d, obj, "status", "status", &status);
	if (r < 0 || !status)
		return r;
	r = opt_object(d, status, "loadBalancer", "status.loadBalancer", &lb);
	if (r < 0 || !lb)
		return r;
	r = opt_array(d, lb, "ingress", "status.loadBalancer.ingress", &ingress);
	if (r < 0 || !ingress)
		return r;
	n = json_array_size(ingress);
	if (n == 0)
		return 0;
	s->ingress = calloc(n, sizeof(s->ingress[0]));
	if (!s->ingress)
		return dec_nomem(d);
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(ingress, i); /* borrowed */
		struct service_ingress *in = &s->ingress[i];
		const char *ip, *mode;
		char path[64];

		if (!json_is_object(e))
			return dec_fail(d, -EINVAL,
					"status.loadBalancer.ingress[%zu]: not an object", i);
		snprintf(path, sizeof(path), "status.loadBalancer.ingress[%zu].ip", i);
		r = opt_string(d, e, "ip", path, &ip);
		if (r < 0)
			return r;
		snprintf(path, sizeof(path), "status.loadBalancer.ingress[%zu].ipMode", i);
		r = opt_string(d, e, "ipMode", path, &mode);
		if (r < 0)
			return r;
		if (!ip || ip_parse(ip, &in->addr, NULL) < 0) {
			memset(&in->addr, 0, sizeof(in->addr));
			in->foreign = true;
		}
		if (member(e, "hostname") || member(e, "ports"))
			in->foreign = true;
		if (!mode)
			in->ip_mode = SERVICE_IP_MODE_NONE;
		else if (strcmp(mode, "VIP") == 0)
			in->ip_mode = SERVICE_IP_MODE_VIP;
		else if (strcmp(mode, "Proxy") == 0)
			in->ip_mode = SERVICE_IP_MODE_PROXY;
		else
			in->ip_mode = SERVICE_IP_MODE_OTHER;
		s->ningress = i + 1;
	}
	return 0;
}

static int decode_meta(struct dec *d, struct service *s, const json_t *meta, json_t **ret_annots)
{
	const char *ns, *name, *uid, *ts;
	int r;

	r = opt_string(d, meta, "name", "metadata.name", &name);
	if (r == 0)
		r = opt_string(d, meta, "namespace", "metadata.namespace", &ns);
	if (r == 0)
		r = opt_string(d, meta, "uid", "metadata.uid", &uid);
	if (r == 0)
		r = opt_string(d, meta, "creationTimestamp", "metadata.creationTimestamp", &ts);
	if (r == 0)
		r = opt_object(d, meta, "annotations", "metadata.annotations", ret_annots);
	if (r < 0)
		return r;
	if (!name || !*name)
		return dec_fail(d, -EINVAL, "metadata.name: missing");
	if (strlen(name) > NAME_MAX_LEN)
		return dec_fail(d, -EINVAL, "metadata.name: longer than %d characters",
				NAME_MAX_LEN);
	if (!ns || !*ns)
		return dec_fail(d, -EINVAL, "metadata.namespace: missing");
	if (strlen(ns) > NAMESPACE_MAX)
		return dec_fail(d, -EINVAL, "metadata.namespace: longer than %d characters",
				NAMESPACE_MAX);
	s->created = SERVICE_TIME_UNKNOWN;
	if (ts && service_parse_time(ts, &s->created) < 0)
		return dec_fail(d, -EINVAL,
				"metadata.creationTimestamp: \"%.40s\" is not an "
				"RFC 3339 time",
				ts);
	s->name = strdup(name);
	s->namespace = strdup(ns);
	if (uid)
		s->uid = strdup(uid);
	if (!s->name || !s->namespace || (uid && !s->uid))
		return dec_nomem(d);
	r = labels_from_json(member(meta, "labels"), "metadata.labels", &s->labels, d->err,
			     d->errlen);
	return r == -ENOMEM ? dec_nomem(d) : r;
}

static int decode_spec(struct dec *d, struct service *s, const json_t *spec, const char **lb_ip)
{
	const char *type, *cls, *etp;
	struct labels *sel;
	int r;

	*lb_ip = NULL;
	if (!spec) {
		s->type = SERVICE_CLUSTER_IP;
		return 0;
	}
	r = opt_string(d, spec, "type", "spec.type", &type);
	if (r == 0)
		r = opt_string(d, spec, "loadBalancerClass", "spec.loadBalancerClass", &cls);
	if (r == 0)
		r = opt_string(d, spec, "externalTrafficPolicy", "spec.externalTrafficPolicy",
			       &etp);
	if (r == 0)
		r = opt_string(d, spec, "loadBalancerIP", "spec.loadBalancerIP", lb_ip);
	if (r < 0)
		return r;
	if (!type || strcmp(type, "ClusterIP") == 0)
		s->type = SERVICE_CLUSTER_IP;
	else if (strcmp(type, "NodePort") == 0)
		s->type = SERVICE_NODE_PORT;
	else if (strcmp(type, "LoadBalancer") == 0)
		s->type = SERVICE_LOAD_BALANCER;
	else if (strcmp(type, "ExternalName") == 0)
		s->type = SERVICE_EXTERNAL_NAME;
	else
		return dec_fail(d, -EINVAL, "spec.type: \"%.40s\" is not a Service type", type);
	/* "Local" is the only value that restricts sharing; the API server
	 * accepts only it and "Cluster". */
	if (etp && strcmp(etp, "Local") != 0 && strcmp(etp, "Cluster") != 0 && *etp)
		return dec_fail(d, -EINVAL,
				"spec.externalTrafficPolicy: \"%.40s\" is not Cluster "
				"or Local",
				etp);
	s->etp_local = etp && strcmp(etp, "Local") == 0;
	if (cls) {
		s->lb_class = strdup(cls);
		if (!s->lb_class)
			return dec_nomem(d);
	}
	r = labels_from_json(member(spec, "selector"), "spec.selector", &sel, d->err, d->errlen);
	if (r < 0)
		return r == -ENOMEM ? dec_nomem(d) : r;
	s->selector_hash = labels_hash(sel);
	labels_free(sel);
	r = decode_families(d, s, spec);
	if (r == 0)
		r = decode_ports(d, s, spec);
	if (r == 0)
		r = decode_external_ips(d, s, spec);
	return r;
}

int service_from_json(const json_t *obj, struct service **ret, char *err, size_t errlen)
{
	struct dec d = { .err = err, .errlen = errlen };
	json_t *meta = NULL, *spec = NULL, *annots = NULL;
	const char *lb_ip;
	struct service *s;
	int r;

	if (!json_is_object(obj))
		return dec_fail(&d, -EINVAL, "not an object");
	s = calloc(1, sizeof(*s));
	if (!s)
		return dec_nomem(&d);
	r = opt_object(&d, obj, "metadata", "metadata", &meta);
	if (r == 0 && !meta)
		r = dec_fail(&d, -EINVAL, "metadata: missing");
	if (r == 0)
		r = decode_meta(&d, s, meta, &annots);
	if (r == 0)
		r = opt_object(&d, obj, "spec", "spec", &spec);
	if (r == 0)
		r = decode_spec(&d, s, spec, &lb_ip);
	if (r == 0)
		r = decode_request(&d, s, annots, lb_ip);
	if (r == 0)
		r = decode_status(&d, s, obj);
	if (r < 0) {
		service_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void service_free(struct service *s)
{
	if (!s)
		return;
	if (s->extra_refs) {
		s->extra_refs--;
		return;
	}
	free(s->namespace);
	free(s->name);
	free(s->uid);
	free(s->lb_class);
	free(s->sharing_key);
	free(s->req.pool);
	free(s->req.error);
	free(s->ports);
	free(s->external);
	free(s->ingress);
	labels_free(s->labels);
	free(s);
}

const char *service_deprecated_key(const struct service *s, unsigned bit)
{
	if (!(s->deprecated & bit))
		return NULL;
	switch (bit) {
	case SERVICE_DEPRECATED_LB_IPS:
		return s->req.addrs_from;
	case SERVICE_DEPRECATED_POOL:
		return s->req.pool_from;
	case SERVICE_DEPRECATED_SHARED:
		return s->sharing_from;
	default:
		return NULL;
	}
}

int service_cmp_age(const struct service *a, const struct service *b)
{
	int c;

	if (a->created != b->created)
		return a->created < b->created ? -1 : 1;
	c = strcmp(a->namespace, b->namespace);
	if (c)
		return c;
	return strcmp(a->name, b->name);
}

bool service_ingress_equal(const struct service *s, const struct ip_addr *addrs, size_t n,
			   enum service_ip_mode mode)
{
	if (s->ningress != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct service_ingress *in = &s->ingress[i];

		if (in->foreign || in->ip_mode != mode || !ip_equal(&in->addr, &addrs[i]))
			return false;
	}
	return true;
}

json_t *service_ingress_json(const struct ip_addr *addrs, size_t n, enum service_ip_mode mode)
{
	json_t *lb = json_object(), *ingress = json_array(); /* new */

	if (!lb || !ingress)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		char buf[IP_STRLEN];
		json_t *e = json_object(); /* new */

		if (!e || json_array_append_new(ingress, e) < 0)
			goto fail;
		if (json_object_set_new(e, "ip",
					json_string(ip_format(&addrs[i], buf, sizeof(buf)))) < 0)
			goto fail;
		if (mode == SERVICE_IP_MODE_VIP || mode == SERVICE_IP_MODE_PROXY) {
			const char *m = mode == SERVICE_IP_MODE_VIP ? "VIP" : "Proxy";

			if (json_object_set_new(e, "ipMode", json_string(m)) < 0)
				goto fail;
		}
	}
	if (n > 0) {
		/* set_new steals ingress even on failure. */
		json_t *tmp = ingress;

		ingress = NULL;
		if (json_object_set_new(lb, "ingress", tmp) < 0)
			goto fail;
	}
	json_decref(ingress);
	return lb;
fail:
	json_decref(ingress);
	json_decref(lb);
	return NULL;
}

/* A label set is one allocation: the array, then its strings. Copy it as
 * a block and move the pointers into the copy. */
static struct labels *labels_dup(const struct labels *l)
{
	const char *base = (const char *)l;
	size_t size = sizeof(*l) + l->n * sizeof(l->v[0]);
	struct labels *c;

	for (size_t i = 0; i < l->n; i++) {
		size_t kend = (size_t)(l->v[i].key - base) + strlen(l->v[i].key) + 1;
		size_t vend = (size_t)(l->v[i].value - base) + strlen(l->v[i].value) + 1;

		if (kend > size)
			size = kend;
		if (vend > size)
			size = vend;
	}
	c = malloc(size);
	if (!c)
		return NULL;
	memcpy(c, l, size);
	for (size_t i = 0; i < l->n; i++) {
		c->v[i].key = (const char *)c + (l->v[i].key - base);
		c->v[i].value = (const char *)c + (l->v[i].value - base);
	}
	return c;
}

static int dup_str(const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int dup_mem(const void *p, size_t n, size_t size, void **ret)
{
	*ret = NULL;
	if (!p || n == 0)
		return 0;
	*ret = malloc(n * size);
	if (!*ret)
		return -ENOMEM;
	memcpy(*ret, p, n * size);
	return 0;
}

struct service *service_dup(const struct service *s)
{
	struct service *c = malloc(sizeof(*c));
	int r = 0;

	if (!c)
		return NULL;
	*c = *s;
	c->extra_refs = 0;
	r |= dup_str(s->namespace, &c->namespace);
	r |= dup_str(s->name, &c->name);
	r |= dup_str(s->uid, &c->uid);
	r |= dup_str(s->lb_class, &c->lb_class);
	r |= dup_str(s->sharing_key, &c->sharing_key);
	r |= dup_str(s->req.pool, &c->req.pool);
	r |= dup_str(s->req.error, &c->req.error);
	r |= dup_mem(s->ports, s->nports, sizeof(s->ports[0]), (void **)&c->ports);
	r |= dup_mem(s->external, s->nexternal, sizeof(s->external[0]), (void **)&c->external);
	r |= dup_mem(s->ingress, s->ningress, sizeof(s->ingress[0]), (void **)&c->ingress);
	c->labels = s->labels ? labels_dup(s->labels) : labels_new_empty();
	if (r || !c->labels) {
		service_free(c);
		return NULL;
	}
	return c;
}

struct service *service_ref(struct service *s)
{
	s->extra_refs++;
	return s;
}
