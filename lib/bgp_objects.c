/* Decoders and validation of the BGP kinds (see ironlb/bgp_objects.h).
 *
 * The rules are MetalLB's, so a manifest MetalLB accepts decodes here the
 * same way, plus what ironlb needs to be safe: passwords that can be quoted
 * into BIRD's configuration, Secrets only from ironlb's namespace. Each
 * failure names the field ("spec.holdTime: ...") and never echoes more than
 * a short prefix of the offending value.
 */
#include "ironlb/bgp_objects.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/informer.h"
#include "ironlb/kube_resource.h"

/* Longest prefix of an offending value quoted back in a reason. */
#define ECHO "%.40s"

/* Formats a reason into ctx->why, or without a ctx into a per-thread
 * buffer that the next decode overwrites. Returns -EBADMSG. */
__attribute__((format(printf, 3, 4))) static int fail(struct bgp_decode_ctx *ctx,
						      const char **ret_why, const char *fmt, ...)
{
	static _Thread_local struct bgp_decode_ctx fallback;
	va_list ap;

	if (!ctx)
		ctx = &fallback;
	va_start(ap, fmt);
	vsnprintf(ctx->why, sizeof(ctx->why), fmt, ap);
	va_end(ap);
	*ret_why = ctx->why;
	return -EBADMSG;
}

/* parent.key if present and not null (borrowed), else NULL. */
static json_t *field(json_t *parent, const char *key)
{
	json_t *v = json_is_object(parent) ? json_object_get(parent, key) : NULL;

	return v && !json_is_null(v) ? v : NULL;
}

/* spec.key as a string (borrowed) or NULL when absent; -EBADMSG for
 * another type. */
static int str_field(struct bgp_decode_ctx *ctx, const char **ret_why, json_t *parent,
		     const char *path, const char *key, const char **ret)
{
	json_t *v = field(parent, key);

	*ret = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return fail(ctx, ret_why, "%s.%s: not a string", path, key);
	*ret = json_string_value(v);
	return 0;
}

/* spec.key as an integer in [lo, hi], dflt when absent. */
static int int_field(struct bgp_decode_ctx *ctx, const char **ret_why, json_t *spec,
		     const char *key, long long lo, long long hi, long long dflt, long long *ret,
		     bool *ret_present)
{
	json_t *v = field(spec, key);
	long long x;

	if (ret_present)
		*ret_present = v != NULL;
	if (!v) {
		*ret = dflt;
		return 0;
	}
	if (!json_is_integer(v))
		return fail(ctx, ret_why, "spec.%s: not an integer", key);
	x = json_integer_value(v);
	if (x < lo || x > hi)
		return fail(ctx, ret_why, "spec.%s: %lld is outside %lld..%lld", key, x, lo, hi);
	*ret = x;
	return 0;
}

static int bool_field(struct bgp_decode_ctx *ctx, const char **ret_why, json_t *spec,
		      const char *key, bool *ret)
{
	json_t *v = field(spec, key);

	*ret = false;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return fail(ctx, ret_why, "spec.%s: not a boolean", key);
	*ret = json_is_true(v);
	return 0;
}

/* parent.key as an object (borrowed) or NULL; path names parent ("" for
 * the top level). */
static int obj_field(struct bgp_decode_ctx *ctx, const char **ret_why, json_t *parent,
		     const char *path, const char *key, json_t **ret)
{
	json_t *v = field(parent, key);

	*ret = NULL;
	if (!v)
		return 0;
	if (!json_is_object(v))
		return fail(ctx, ret_why, "%s%s%s: not an object", path, *path ? "." : "", key);
	*ret = v;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static void str_array_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void sel_array_free(struct selector **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		selector_free(v[i]);
	free(v);
}

/* spec.key: an array of non-empty strings, copied. */
static int str_array(struct bgp_decode_ctx *ctx, const char **ret_why, json_t *spec,
		     const char *key, char ***ret, size_t *ret_n)
{
	json_t *arr = field(spec, key);
	size_t i, n;
	char **v;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return fail(ctx, ret_why, "spec.%s: not an array of strings", key);
	n = json_array_size(arr);
	if (!n)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		int r = 0;

		if (!json_is_string(e))
			r = fail(ctx, ret_why, "spec.%s[%zu]: not a string", key, i);
		else if (!*json_string_value(e))
			r = fail(ctx, ret_why, "spec.%s[%zu]: empty", key, i);
		else if (!(v[i] = strdup(json_string_value(e))))
			r = -ENOMEM;
		if (r < 0) {
			str_array_free(v, i);
			return r;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* spec.key: an array of label selectors. */
static int sel_array(struct bgp_decode_ctx *ctx, const char **ret_why, json_t *spec,
		     const char *key, struct selector ***ret, size_t *ret_n)
{
	json_t *arr = field(spec, key);
	char path[64], err[SELECTOR_ERR_MAX];
	struct selector **v;
	size_t i, n;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return fail(ctx, ret_why, "spec.%s: not an array of label selectors", key);
	n = json_array_size(arr);
	if (!n)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		int r;

		snprintf(path, sizeof(path), "spec.%s[%zu]", key, i);
		err[0] = 0;
		r = selector_parse(json_array_get(arr, i), path, &v[i], err, sizeof(err));
		if (r < 0) {
			sel_array_free(v, i);
			if (r == -ENOMEM)
				return r;
			/* err starts with path. */
			return fail(ctx, ret_why, "%s", err[0] ? err : path);
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* ---- durations ---- */

#define NS_PER_S 1000000000ull

static const struct {
	const char *name;
	unsigned long long ns;
} duration_units[] = {
	/* Longer names first so that "ms" is not read as "m". */
	{ "ns", 1 },	       { "us", 1000 },	  { "\xc2\xb5s", 1000 }, /* U+00B5 micro sign */
	{ "\xce\xbcs", 1000 },						 /* U+03BC Greek mu */
	{ "ms", 1000000 },     { "s", NS_PER_S }, { "m", 60 * NS_PER_S }, { "h", 3600 * NS_PER_S },
};

int bgp_duration_parse_s(const char *s, uint32_t *ret_s, const char **ret_why)
{
	const unsigned __int128 max = (unsigned __int128)UINT32_MAX * NS_PER_S;
	unsigned __int128 total = 0;
	const char *p = s, *why = NULL;

	if (!s || !*s) {
		why = "empty duration";
		goto bad;
	}
	if (*p == '-') {
		why = "negative durations are not allowed";
		goto bad;
	}
	if (*p == '+')
		p++;
	if (strcmp(p, "0") == 0) {
		*ret_s = 0;
		return 0;
	}
	if (!*p) {
		why = "not a duration (e.g. 90s, 1m30s)";
		goto bad;
	}
	while (*p) {
		unsigned long long ip = 0, frac = 0, scale = 1, mult = 0;
		unsigned __int128 v;
		bool digits = false;
		size_t u;

		for (; *p >= '0' && *p <= '9'; p++) {
			if (ip > (~0ull - 9) / 10) {
				why = "duration too long";
				goto bad;
			}
			ip = ip * 10 + (unsigned)(*p - '0');
			digits = true;
		}
		if (*p == '.') {
			for (p++; *p >= '0' && *p <= '9'; p++) {
				digits = true;
				if (scale < 1000000000000000000ull) {
					frac = frac * 10 + (unsigned)(*p - '0');
					scale *= 10;
				} else if (*p != '0') {
					why = "not a whole number of seconds";
					goto bad;
				}
			}
		}
		if (!digits) {
			why = "not a duration (e.g. 90s, 1m30s)";
			goto bad;
		}
		for (u = 0; u < sizeof(duration_units) / sizeof(duration_units[0]); u++) {
			size_t len = strlen(duration_units[u].name);

			if (strncmp(p, duration_units[u].name, len) == 0 &&
			    !(p[len] >= 'a' && p[len] <= 'z')) {
				mult = duration_units[u].ns;
				p += len;
				break;
			}
		}
		if (!mult) {
			why = "missing or unknown unit (ns, us, ms, s, m, h)";
			goto bad;
		}
		v = (unsigned __int128)frac * mult;
		if (v % scale) {
			why = "not a whole number of seconds";
			goto bad;
		}
		v = v / scale + (unsigned __int128)ip * mult;
		if (v > max || total + v > max) {
			why = "duration too long";
			goto bad;
		}
		total += v;
	}
	if (total % NS_PER_S) {
		why = "not a whole number of seconds";
		goto bad;
	}
	*ret_s = (uint32_t)(total / NS_PER_S);
	return 0;
bad:
	if (ret_why)
		*ret_why = why;
	return -EINVAL;
}

/* spec.key: a duration in whole seconds; *ret_present false when absent. */
static int duration_field(struct bgp_decode_ctx *ctx, const char **ret_why, json_t *spec,
			  const char *key, uint32_t *ret, bool *ret_present)
{
	const char *s, *why = NULL;
	int r;

	*ret_present = false;
	r = str_field(ctx, ret_why, spec, "spec", key, &s);
	if (r < 0 || !s)
		return r;
	if (bgp_duration_parse_s(s, ret, &why) < 0)
		return fail(ctx, ret_why, "spec.%s: \"" ECHO "\": %s", key, s, why);
	*ret_present = true;
	return 0;
}

/* ---- BGPPeer ---- */

void bgp_peer_free(void *item, void *ud)
{
	struct bgp_peer *p = item;

	(void)ud;
	if (!p)
		return;
	free(p->name);
	sel_array_free(p->node_sel, p->n_node_sel);
	free(p->password);
	free(p->password_secret);
	free(p->bfd_profile);
	free(p->vrf);
	free(p);
}

/* A password BIRD's configuration can carry: 1..BGP_PASSWORD_MAX bytes,
 * no control character (NUL, line breaks, DEL, ...) and no '"' (BIRD 2
 * strings have no escapes). ascii: printable ASCII only (inline
 * passwords, which land in the object's YAML and in kubectl output). */
static bool password_ok(const char *s, size_t len, bool ascii)
{
	if (len < 1 || len > BGP_PASSWORD_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '"' || (ascii && c > 0x7e))
			return false;
	}
	return true;
}

static int peer_times(struct bgp_decode_ctx *ctx, const char **ret_why, json_t *spec,
		      struct bgp_peer *p)
{
	bool has_hold, has_ka, has_conn;
	int r;

	r = duration_field(ctx, ret_why, spec, "holdTime", &p->hold_s, &has_hold);
	if (r < 0)
		return r;
	if (!has_hold)
		p->hold_s = BGP_DEFAULT_HOLD_S;
	if (p->hold_s != 0 && p->hold_s < 3)
		return fail(ctx, ret_why, "spec.holdTime: %us: must be 0 or at least 3s",
			    p->hold_s);
	/* BGP OPEN carries the hold time in 16 bits (RFC 4271 4.2). */
	if (p->hold_s > 65535)
		return fail(ctx, ret_why, "spec.holdTime: %us is above 65535s", p->hold_s);
	r = duration_field(ctx, ret_why, spec, "keepaliveTime", &p->keepalive_s, &has_ka);
	if (r < 0)
		return r;
	if (!has_ka)
		p->keepalive_s = p->hold_s / 3;
	if (p->keepalive_s > p->hold_s)
		return fail(ctx, ret_why, "spec.keepaliveTime: %us is above holdTime %us",
			    p->keepalive_s, p->hold_s);
	if (p->keepalive_s == 0 && p->hold_s != 0)
		return fail(ctx, ret_why,
			    "spec.keepaliveTime: 0 is only allowed with holdTime 0 (holdTime "
			    "is %us)",
			    p->hold_s);
	r = duration_field(ctx, ret_why, spec, "connectTime", &p->connect_s, &has_conn);
	if (r < 0)
		return r;
	if (p->connect_s > 65535)
		return fail(ctx, ret_why, "spec.connectTime: %us is above 65535s", p->connect_s);
	return 0;
}

static int peer_password(struct bgp_decode_ctx *ctx, const char **ret_why, json_t *spec,
			 struct bgp_peer *p)
{
	const char *pw, *sname = NULL, *sns = NULL;
	json_t *sec;
	int r;

	r = str_field(ctx, ret_why, spec, "spec", "password", &pw);
	if (r < 0)
		return r;
	r = obj_field(ctx, ret_why, spec, "spec", "passwordSecret", &sec);
	if (r < 0)
		return r;
	if (sec) {
		r = str_field(ctx, ret_why, sec, "spec.passwordSecret", "name", &sname);
		if (r < 0)
			return r;
		r = str_field(ctx, ret_why, sec, "spec.passwordSecret", "namespace", &sns);
		if (r < 0)
			return r;
	}
	/* As in MetalLB, an empty password or Secret name means unset. */
	if (pw && *pw && sname && *sname)
		return fail(ctx, ret_why,
			    "spec.password, spec.passwordSecret: set one of them, not both");
	if (pw && *pw) {
		if (!password_ok(pw, strlen(pw), true))
			return fail(ctx, ret_why,
				    "spec.password: must be 1..%d printable ASCII characters "
				    "other than '\"'",
				    BGP_PASSWORD_MAX);
		if (!(p->password = strdup(pw)))
			return -ENOMEM;
	}
	if (sname && *sname) {
		if (sns && *sns && ctx && ctx->namespace && strcmp(sns, ctx->namespace) != 0)
			return fail(ctx, ret_why,
				    "spec.passwordSecret.namespace: \"" ECHO
				    "\" must be ironlb's namespace (" ECHO ")",
				    sns, ctx->namespace);
		if (!(p->password_secret = strdup(sname)))
			return -ENOMEM;
	}
	return 0;
}

int bgp_peer_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	struct bgp_decode_ctx *ctx = ud;
	struct bgp_peer *p = NULL;
	struct kube_meta m;
	json_t *spec;
	const char *s;
	long long v;
	bool present;
	int r;

	r = kube_meta_get(obj, true, false, &m, ret_why);
	if (r < 0)
		return -EBADMSG;
	r = obj_field(ctx, ret_why, obj, "", "spec", &spec);
	if (r < 0)
		return r;
	if (!spec)
		return fail(ctx, ret_why, "spec: required");
	p = calloc(1, sizeof(*p));
	if (!p || !(p->name = strdup(m.name)))
		goto nomem;

	r = int_field(ctx, ret_why, spec, "myASN", 1, 4294967295LL, 0, &v, &present);
	if (r < 0)
		goto fail;
	if (!present) {
		r = fail(ctx, ret_why, "spec.myASN: required");
		goto fail;
	}
	p->my_asn = (uint32_t)v;
	r = int_field(ctx, ret_why, spec, "peerASN", 1, 4294967295LL, 0, &v, &present);
	if (r < 0)
		goto fail;
	if (!present) {
		r = fail(ctx, ret_why, "spec.peerASN: required");
		goto fail;
	}
	p->peer_asn = (uint32_t)v;

	r = str_field(ctx, ret_why, spec, "spec", "peerAddress", &s);
	if (r < 0)
		goto fail;
	if (!s || !*s) {
		r = fail(ctx, ret_why, "spec.peerAddress: required");
		goto fail;
	}
	if (ip_parse(s, &p->peer_addr, NULL) < 0) {
		r = fail(ctx, ret_why, "spec.peerAddress: \"" ECHO "\" is not an IP address", s);
		goto fail;
	}
	r = str_field(ctx, ret_why, spec, "spec", "sourceAddress", &s);
	if (r < 0)
		goto fail;
	if (s && *s) {
		if (ip_parse(s, &p->source_addr, NULL) < 0) {
			r = fail(ctx, ret_why,
				 "spec.sourceAddress: \"" ECHO "\" is not an IP address", s);
			goto fail;
		}
		if (p->source_addr.family != p->peer_addr.family) {
			r = fail(ctx, ret_why,
				 "spec.sourceAddress: not of peerAddress's address family");
			goto fail;
		}
		p->has_source = true;
	}
	r = int_field(ctx, ret_why, spec, "peerPort", 1, 65535, BGP_DEFAULT_PORT, &v, NULL);
	if (r < 0)
		goto fail;
	p->peer_port = (uint16_t)v;

	r = peer_times(ctx, ret_why, spec, p);
	if (r < 0)
		goto fail;

	r = str_field(ctx, ret_why, spec, "spec", "routerID", &s);
	if (r < 0)
		goto fail;
	if (s && *s) {
		if (ip_parse(s, &p->router_id, NULL) < 0 || p->router_id.family != AF_INET) {
			r = fail(ctx, ret_why, "spec.routerID: \"" ECHO "\" is not an IPv4 address",
				 s);
			goto fail;
		}
		p->has_router_id = true;
	}
	r = sel_array(ctx, ret_why, spec, "nodeSelectors", &p->node_sel, &p->n_node_sel);
	if (r < 0)
		goto fail;
	r = peer_password(ctx, ret_why, spec, p);
	if (r < 0)
		goto fail;
	r = str_field(ctx, ret_why, spec, "spec", "bfdProfile", &s);
	if (r < 0)
		goto fail;
	if (s && *s && !(p->bfd_profile = strdup(s)))
		goto nomem;
	r = bool_field(ctx, ret_why, spec, "ebgpMultiHop", &p->ebgp_multihop);
	if (r < 0)
		goto fail;
	if (p->ebgp_multihop && p->my_asn == p->peer_asn) {
		r = fail(ctx, ret_why,
			 "spec.ebgpMultiHop: only for eBGP, but myASN equals peerASN (%u)",
			 p->my_asn);
		goto fail;
	}
	r = str_field(ctx, ret_why, spec, "spec", "vrf", &s);
	if (r < 0)
		goto fail;
	if (s && *s && !(p->vrf = dup_or_null(s)))
		goto nomem;
	*ret_item = p;
	return 0;
nomem:
	r = -ENOMEM;
fail:
	bgp_peer_free(p, NULL);
	return r;
}

/* ---- communities ---- */

/* Decimal, digits only, at most max. Leading zeros are accepted (MetalLB
 * parses with strconv.ParseUint). Advances *p. */
static bool parse_num(const char **p, uint32_t max, uint32_t *ret)
{
	unsigned long long v = 0;
	const char *s = *p;

	if (!(*s >= '0' && *s <= '9'))
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return false;
	}
	*ret = (uint32_t)v;
	*p = s;
	return true;
}

int bgp_community_parse(const char *s, struct bgp_community *ret, const char **ret_why)
{
	struct bgp_community c = { 0 };
	const char *p = s;

	if (!s || !*s) {
		*ret_why = "empty community";
		return -EINVAL;
	}
	if (strncmp(p, "large:", 6) == 0) {
		p += 6;
		c.large = true;
		if (!parse_num(&p, UINT32_MAX, &c.a) || *p++ != ':' ||
		    !parse_num(&p, UINT32_MAX, &c.b) || *p++ != ':' ||
		    !parse_num(&p, UINT32_MAX, &c.c) || *p) {
			*ret_why = "not a large community (large:a:b:c, each 0..4294967295)";
			return -EINVAL;
		}
	} else if (!parse_num(&p, 65535, &c.a) || *p++ != ':' || !parse_num(&p, 65535, &c.b) ||
		   *p) {
		*ret_why = "not a community value (a:b with each 0..65535, or large:a:b:c); "
			   "ironlb has no Community aliases";
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

void bgp_community_format(const struct bgp_community *c, char *buf, size_t len)
{
	if (c->large)
		snprintf(buf, len, "large:%u:%u:%u", c->a, c->b, c->c);
	else
		snprintf(buf, len, "%u:%u", c->a, c->b);
}

int bgp_community_cmp(const struct bgp_community *x, const struct bgp_community *y)
{
	if (x->large != y->large)
		return x->large ? 1 : -1;
	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	if (x->b != y->b)
		return x->b < y->b ? -1 : 1;
	if (x->c != y->c)
		return x->c < y->c ? -1 : 1;
	return 0;
}

static int community_qsort_cmp(const void *x, const void *y)
{
	return bgp_community_cmp(x, y);
}

/* ---- BGPAdvertisement ---- */

void bgp_advert_free(void *item, void *ud)
{
	struct bgp_advert *a = item;

	(void)ud;
	if (!a)
		return;
	free(a->name);
	str_array_free(a->pools, a->n_pools);
	sel_array_free(a->pool_sel, a->n_pool_sel);
	sel_array_free(a->node_sel, a->n_node_sel);
	str_array_free(a->peers, a->n_peers);
	free(a->communities);
	free(a);
}

static int advert_communities(struct bgp_decode_ctx *ctx, const char **ret_why, json_t *spec,
			      struct bgp_advert *a)
{
	json_t *arr = field(spec, "communities");
	size_t i, k, n;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return fail(ctx, ret_why, "spec.communities: not an array of strings");
	n = json_array_size(arr);
	if (!n)
		return 0;
	a->communities = calloc(n, sizeof(*a->communities));
	if (!a->communities)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		const char *why = NULL;

		if (!json_is_string(e))
			return fail(ctx, ret_why, "spec.communities[%zu]: not a string", i);
		if (bgp_community_parse(json_string_value(e), &a->communities[i], &why) < 0)
			return fail(ctx, ret_why, "spec.communities[%zu]: \"" ECHO "\": %s", i,
				    json_string_value(e), why);
	}
	qsort(a->communities, n, sizeof(*a->communities), community_qsort_cmp);
	for (i = 0, k = 0; i < n; i++)
		if (!k || bgp_community_cmp(&a->communities[k - 1], &a->communities[i]) != 0)
			a->communities[k++] = a->communities[i];
	a->n_communities = k;
	return 0;
}

int bgp_advert_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	struct bgp_decode_ctx *ctx = ud;
	struct bgp_advert *a = NULL;
	struct kube_meta m;
	json_t *spec;
	long long v;
	int r;

	r = kube_meta_get(obj, true, false, &m, ret_why);
	if (r < 0)
		return -EBADMSG;
	r = obj_field(ctx, ret_why, obj, "", "spec", &spec);
	if (r < 0)
		return r;
	a = calloc(1, sizeof(*a));
	if (!a || !(a->name = strdup(m.name)))
		goto nomem;
	if ((r = str_array(ctx, ret_why, spec, "ipAddressPools", &a->pools, &a->n_pools)) < 0 ||
	    (r = sel_array(ctx, ret_why, spec, "ipAddressPoolSelectors", &a->pool_sel,
			   &a->n_pool_sel)) < 0 ||
	    (r = sel_array(ctx, ret_why, spec, "nodeSelectors", &a->node_sel, &a->n_node_sel)) <
		    0 ||
	    (r = str_array(ctx, ret_why, spec, "peers", &a->peers, &a->n_peers)) < 0)
		goto fail;
	r = int_field(ctx, ret_why, spec, "aggregationLength", 0, 32, 32, &v, NULL);
	if (r < 0)
		goto fail;
	a->agg_len = (uint8_t)v;
	r = int_field(ctx, ret_why, spec, "aggregationLengthV6", 0, 128, 128, &v, NULL);
	if (r < 0)
		goto fail;
	a->agg_len_v6 = (uint8_t)v;
	r = int_field(ctx, ret_why, spec, "localPref", 0, 4294967295LL, 0, &v, &a->has_local_pref);
	if (r < 0)
		goto fail;
	a->local_pref = (uint32_t)v;
	r = advert_communities(ctx, ret_why, spec, a);
	if (r < 0)
		goto fail;
	*ret_item = a;
	return 0;
nomem:
	r = -ENOMEM;
fail:
	bgp_advert_free(a, NULL);
	return r;
}

bool bgp_selectors_match(struct selector *const *sel, size_t n, const struct labels *l)
{
	if (!n)
		return true;
	for (size_t i = 0; i < n; i++)
		if (selector_matches(sel[i], l))
			return true;
	return false;
}

bool bgp_advert_selects_pool(const struct bgp_advert *a, const char *pool, const struct labels *l)
{
	size_t i;

	if (!a->n_pools && !a->n_pool_sel)
		return true;
	for (i = 0; i < a->n_pools; i++)
		if (pool && strcmp(a->pools[i], pool) == 0)
			return true;
	for (i = 0; i < a->n_pool_sel; i++)
		if (selector_matches(a->pool_sel[i], l))
			return true;
	return false;
}

bool bgp_advert_has_peer(const struct bgp_advert *a, const char *peer)
{
	if (!a->n_peers)
		return true;
	for (size_t i = 0; i < a->n_peers; i++)
		if (peer && strcmp(a->peers[i], peer) == 0)
			return true;
	return false;
}

/* ---- BFDProfile ---- */

void bgp_bfd_free(void *item, void *ud)
{
	struct bgp_bfd_profile *b = item;

	(void)ud;
	if (!b)
		return;
	free(b->name);
	free(b);
}

int bgp_bfd_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	struct bgp_decode_ctx *ctx = ud;
	struct bgp_bfd_profile *b = NULL;
	struct kube_meta m;
	long long rx, tx, mult, echo, ttl;
	json_t *spec;
	int r;

	r = kube_meta_get(obj, true, false, &m, ret_why);
	if (r < 0)
		return -EBADMSG;
	r = obj_field(ctx, ret_why, obj, "", "spec", &spec);
	if (r < 0)
		return r;
	if ((r = int_field(ctx, ret_why, spec, "receiveInterval", 10, 60000,
			   BGP_DEFAULT_BFD_INTERVAL_MS, &rx, NULL)) < 0 ||
	    (r = int_field(ctx, ret_why, spec, "transmitInterval", 10, 60000,
			   BGP_DEFAULT_BFD_INTERVAL_MS, &tx, NULL)) < 0 ||
	    (r = int_field(ctx, ret_why, spec, "detectMultiplier", 2, 255,
			   BGP_DEFAULT_BFD_MULTIPLIER, &mult, NULL)) < 0 ||
	    (r = int_field(ctx, ret_why, spec, "echoInterval", 10, 60000, BGP_DEFAULT_BFD_ECHO_MS,
			   &echo, NULL)) < 0 ||
	    (r = int_field(ctx, ret_why, spec, "minimumTtl", 1, 254, BGP_DEFAULT_BFD_MIN_TTL, &ttl,
			   NULL)) < 0)
		return r;
	b = calloc(1, sizeof(*b));
	if (!b || !(b->name = strdup(m.name)))
		goto nomem;
	b->rx_ms = (uint32_t)rx;
	b->tx_ms = (uint32_t)tx;
	b->multiplier = (uint8_t)mult;
	b->echo_ms = (uint32_t)echo;
	b->min_ttl = (uint8_t)ttl;
	if ((r = bool_field(ctx, ret_why, spec, "echoMode", &b->echo_mode)) < 0 ||
	    (r = bool_field(ctx, ret_why, spec, "passiveMode", &b->passive)) < 0)
		goto fail;
	*ret_item = b;
	return 0;
nomem:
	r = -ENOMEM;
fail:
	bgp_bfd_free(b, NULL);
	return r;
}

/* ---- Secrets ---- */

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int bgp_base64_decode(const char *s, char **ret, size_t *ret_len)
{
	size_t n = s ? strlen(s) : 0, i, out = 0, pad = 0;
	char *buf;

	if (n % 4 != 0)
		return -EINVAL;
	if (n && s[n - 1] == '=')
		pad = n >= 2 && s[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n - pad; i++)
		if (b64_value((unsigned char)s[i]) < 0)
			return -EINVAL;
	/* The bits a padded final group leaves over must be zero (canonical). */
	if (pad == 1 && (b64_value((unsigned char)s[n - 2]) & 0x3))
		return -EINVAL;
	if (pad == 2 && (b64_value((unsigned char)s[n - 3]) & 0xf))
		return -EINVAL;
	buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < n; i += 4) {
		unsigned v = 0;
		int k;

		for (k = 0; k < 4; k++)
			v = v << 6 |
			    (s[i + k] == '=' ? 0u : (unsigned)b64_value((unsigned char)s[i + k]));
		buf[out++] = (char)(v >> 16);
		if (s[i + 2] != '=')
			buf[out++] = (char)(v >> 8 & 0xff);
		if (s[i + 3] != '=')
			buf[out++] = (char)(v & 0xff);
	}
	buf[out] = 0;
	*ret = buf;
	*ret_len = out;
	return 0;
}

void bgp_secret_free(void *item, void *ud)
{
	struct bgp_secret *s = item;

	(void)ud;
	if (!s)
		return;
	free(s->name);
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	free(s);
}

int bgp_secret_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	struct bgp_decode_ctx *ctx = ud;
	struct bgp_secret *s = NULL;
	struct kube_meta m;
	const char *type, *b64;
	json_t *data;
	char *pw = NULL;
	size_t len;
	int r;

	r = kube_meta_get(obj, true, false, &m, ret_why);
	if (r < 0)
		return -EBADMSG;
	data = field(obj, "type");
	if (data && !json_is_string(data))
		return fail(ctx, ret_why, "type: not a string");
	type = data ? json_string_value(data) : NULL;
	if (!type || strcmp(type, "kubernetes.io/basic-auth") != 0)
		return INFORMER_SKIP;
	r = obj_field(ctx, ret_why, obj, "", "data", &data);
	if (r < 0)
		return r;
	r = str_field(ctx, ret_why, data, "data", "password", &b64);
	if (r < 0)
		return r;
	if (!b64)
		return fail(ctx, ret_why, "data.password: missing");
	r = bgp_base64_decode(b64, &pw, &len);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return fail(ctx, ret_why, "data.password: not valid base64");
	if (!password_ok(pw, len, false)) {
		explicit_bzero(pw, len);
		free(pw);
		return fail(ctx, ret_why,
			    "data.password: must be 1..%d bytes without '\"' or control "
			    "characters (NUL, line breaks)",
			    BGP_PASSWORD_MAX);
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->name = strdup(m.name))) {
		explicit_bzero(pw, len);
		free(pw);
		free(s);
		return -ENOMEM;
	}
	s->password = pw;
	*ret_item = s;
	return 0;
}
