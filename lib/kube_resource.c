/* Resource descriptors of the kinds ironlb reads and writes, and REST path
 * and query building for them. Every name and value that goes into a URL is
 * percent-encoded here, so label selectors ("a in (b,c)", "!d") and odd
 * names cannot change the meaning of a request.
 */
#include "ironlb/kube_resource.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ironlb/kube_util.h"

const struct kube_resource KUBE_SERVICES = { "", "v1", "services", "Service", true };
const struct kube_resource KUBE_NODES = { "", "v1", "nodes", "Node", false };
const struct kube_resource KUBE_NAMESPACES = { "", "v1", "namespaces", "Namespace", false };
const struct kube_resource KUBE_SECRETS = { "", "v1", "secrets", "Secret", true };
const struct kube_resource KUBE_EVENTS = { "", "v1", "events", "Event", true };
const struct kube_resource KUBE_PODS = { "", "v1", "pods", "Pod", true };
const struct kube_resource KUBE_ENDPOINTSLICES = { "discovery.k8s.io", "v1", "endpointslices",
						   "EndpointSlice", true };
const struct kube_resource KUBE_LEASES = { "coordination.k8s.io", "v1", "leases", "Lease", true };
const struct kube_resource KUBE_IPADDRESSPOOLS = { "ironlb.io", "v1beta1", "ipaddresspools",
						   "IPAddressPool", true };
const struct kube_resource KUBE_L2ADVERTISEMENTS = { "ironlb.io", "v1beta1", "l2advertisements",
						     "L2Advertisement", true };
const struct kube_resource KUBE_BGPADVERTISEMENTS = { "ironlb.io", "v1beta1", "bgpadvertisements",
						      "BGPAdvertisement", true };
const struct kube_resource KUBE_BGPPEERS = { "ironlb.io", "v1beta1", "bgppeers", "BGPPeer", true };
const struct kube_resource KUBE_BFDPROFILES = { "ironlb.io", "v1beta1", "bfdprofiles", "BFDProfile",
						true };

static const struct kube_resource *const all_resources[] = {
	&KUBE_SERVICES,
	&KUBE_NODES,
	&KUBE_NAMESPACES,
	&KUBE_SECRETS,
	&KUBE_EVENTS,
	&KUBE_PODS,
	&KUBE_ENDPOINTSLICES,
	&KUBE_LEASES,
	&KUBE_IPADDRESSPOOLS,
	&KUBE_L2ADVERTISEMENTS,
	&KUBE_BGPADVERTISEMENTS,
	&KUBE_BGPPEERS,
	&KUBE_BFDPROFILES,
};

const struct kube_resource *kube_resource_find(const char *name)
{
	for (size_t i = 0; i < sizeof(all_resources) / sizeof(all_resources[0]); i++) {
		const struct kube_resource *r = all_resources[i];
		size_t n = strlen(r->plural);

		if (strcmp(name, r->plural) == 0 || strcasecmp(name, r->kind) == 0)
			return r;
		if (r->group[0] && strncmp(name, r->plural, n) == 0 && name[n] == '.' &&
		    strcmp(name + n + 1, r->group) == 0)
			return r;
	}
	return NULL;
}

const char *kube_resource_api_version(const struct kube_resource *res, char *buf, size_t len)
{
	if (!res->group[0])
		snprintf(buf, len, "%s", res->version);
	else
		snprintf(buf, len, "%s/%s", res->group, res->version);
	return buf;
}

static void query_param(struct kube_buf *b, bool *first, const char *key, const char *value)
{
	kube_buf_puts(b, *first ? "?" : "&");
	*first = false;
	kube_buf_escape(b, key);
	kube_buf_puts(b, "=");
	kube_buf_escape(b, value);
}

static void query_build(struct kube_buf *b, const struct kube_list_opts *o)
{
	bool first = true;
	char num[24];

	if (o->watch)
		query_param(b, &first, "watch", "1");
	if (o->allow_bookmarks)
		query_param(b, &first, "allowWatchBookmarks", "true");
	if (o->label_selector && o->label_selector[0])
		query_param(b, &first, "labelSelector", o->label_selector);
	if (o->field_selector && o->field_selector[0])
		query_param(b, &first, "fieldSelector", o->field_selector);
	if (o->limit) {
		snprintf(num, sizeof(num), "%u", o->limit);
		query_param(b, &first, "limit", num);
	}
	if (o->continue_token && o->continue_token[0])
		query_param(b, &first, "continue", o->continue_token);
	if (o->resource_version && o->resource_version[0])
		query_param(b, &first, "resourceVersion", o->resource_version);
	if (o->timeout_s) {
		snprintf(num, sizeof(num), "%u", o->timeout_s);
		query_param(b, &first, "timeoutSeconds", num);
	}
}

int kube_path_build(const struct kube_resource *res, const char *ns, const char *name,
		    const char *subresource, const struct kube_list_opts *opts, char **ret_path)
{
	struct kube_buf b = { 0 };
	char *s;

	if (name && !name[0])
		name = NULL;
	if (ns && !ns[0])
		ns = NULL;
	if (subresource && !subresource[0])
		subresource = NULL;
	if ((subresource && !name) || (res->namespaced && name && !ns))
		return -EINVAL;
	if (res->group[0])
		kube_buf_printf(&b, "/apis/%s/%s", res->group, res->version);
	else
		kube_buf_printf(&b, "/api/%s", res->version);
	if (res->namespaced && ns) {
		kube_buf_puts(&b, "/namespaces/");
		kube_buf_escape(&b, ns);
	}
	kube_buf_puts(&b, "/");
	kube_buf_puts(&b, res->plural);
	if (name) {
		kube_buf_puts(&b, "/");
		kube_buf_escape(&b, name);
	}
	if (subresource) {
		kube_buf_puts(&b, "/");
		kube_buf_escape(&b, subresource);
	}
	if (opts)
		query_build(&b, opts);
	s = kube_buf_steal(&b);
	if (!s)
		return -ENOMEM;
	*ret_path = s;
	return 0;
}

/* A string member that may be absent ("") but must be a string if present. */
static int meta_str(json_t *md, const char *key, const char **ret)
{
	json_t *v = json_object_get(md, key); /* borrowed */

	if (!v || json_is_null(v)) {
		*ret = "";
		return 0;
	}
	if (!json_is_string(v))
		return -EBADMSG;
	*ret = json_string_value(v);
	return 0;
}

int kube_meta_get(json_t *obj, bool need_name, bool need_rv, struct kube_meta *ret,
		  const char **ret_why)
{
	struct kube_meta m = { 0 };
	json_t *md;
	const char *why = NULL;

	if (!json_is_object(obj)) {
		why = "object is not a JSON object";
		goto bad;
	}
	md = json_object_get(obj, "metadata"); /* borrowed */
	if (!json_is_object(md)) {
		why = "metadata is missing or not an object";
		goto bad;
	}
	if (meta_str(md, "namespace", &m.ns) < 0) {
		why = "metadata.namespace is not a string";
		goto bad;
	}
	if (meta_str(md, "name", &m.name) < 0) {
		why = "metadata.name is not a string";
		goto bad;
	}
	if (meta_str(md, "uid", &m.uid) < 0) {
		why = "metadata.uid is not a string";
		goto bad;
	}
	if (meta_str(md, "resourceVersion", &m.resource_version) < 0) {
		why = "metadata.resourceVersion is not a string";
		goto bad;
	}
	m.labels = json_object_get(md, "labels"); /* borrowed */
	if (m.labels && json_is_null(m.labels))
		m.labels = NULL;
	if (m.labels && !json_is_object(m.labels)) {
		why = "metadata.labels is not an object";
		goto bad;
	}
	m.annotations = json_object_get(md, "annotations"); /* borrowed */
	if (m.annotations && json_is_null(m.annotations))
		m.annotations = NULL;
	if (m.annotations && !json_is_object(m.annotations)) {
		why = "metadata.annotations is not an object";
		goto bad;
	}
	if (need_name && !m.name[0]) {
		if (ret_why)
			*ret_why = "metadata.name is missing";
		return -ENODATA;
	}
	if (need_rv && !m.resource_version[0]) {
		if (ret_why)
			*ret_why = "metadata.resourceVersion is missing";
		return -ENODATA;
	}
	*ret = m;
	return 0;
bad:
	if (ret_why)
		*ret_why = why;
	return -EBADMSG;
}

int kube_key_format(const char *ns, const char *name, char *buf, size_t len)
{
	int n;

	if (ns && ns[0])
		n = snprintf(buf, len, "%s/%s", ns, name);
	else
		n = snprintf(buf, len, "%s", name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

const char *kube_label_get(json_t *obj, const char *key)
{
	json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels"); /* borrowed */

	return json_string_value(json_object_get(labels, key)); /* borrowed or NULL */
}
