/* Status conditions of the BGP kinds (see bgp_status.h). */
#include "bgp_status.h"

#include <stdio.h>
#include <string.h>

#include "ironlb/bgp_objects.h"

static const char *const managed[] = { "Valid", "References", "Supported" };

const char *bgp_kind_name(enum bgp_kind k)
{
	switch (k) {
	case BGP_KIND_PEER:
		return "BGPPeer";
	case BGP_KIND_ADVERT:
		return "BGPAdvertisement";
	case BGP_KIND_BFD:
		return "BFDProfile";
	case BGP_KIND_POOL:
		return "IPAddressPool";
	}
	return "?";
}

static bool is_managed(const char *type)
{
	for (size_t i = 0; i < sizeof(managed) / sizeof(managed[0]); i++)
		if (type && strcmp(type, managed[i]) == 0)
			return true;
	return false;
}

static void cond_add(struct bgp_verdict *v, const char *type, bool ok, const char *reason,
		     const char *message, const char *event_reason)
{
	if (v->n < BGP_STATUS_MAX_CONDS)
		v->conds[v->n++] = (struct bgp_cond){ type, ok, reason, message, event_reason };
}

/* Appends "path: Kind "name" not found" to buf at *off, keeping room for
 * a "; and more" marker, written instead once an entry does not fit. */
static void ref_note(char *buf, size_t len, size_t *off, const char *path, enum bgp_kind k,
		     const char *name, enum bgp_ref_state st)
{
	static const char more[] = "; and more";
	size_t room = len - sizeof(more);
	int n;

	if (*off >= room)
		return;
	n = snprintf(buf + *off, len - *off, "%s%s: %s \"%.60s\" %s", *off ? "; " : "", path,
		     bgp_kind_name(k), name,
		     st == BGP_REF_MISSING ? "not found" : "is invalid (see its Valid condition)");
	if (n < 0 || *off + (size_t)n >= room) {
		memcpy(buf + *off, more, sizeof(more));
		*off = room;
		return;
	}
	*off += (size_t)n;
}

static size_t check_refs(enum bgp_kind k, const void *item, bgp_ref_lookup_fn lookup, void *ud,
			 char *buf, size_t len)
{
	size_t off = 0, bad = 0;
	char path[64];
	enum bgp_ref_state st;

	buf[0] = '\0';
	if (k == BGP_KIND_PEER) {
		const struct bgp_peer *p = item;

		if (p->bfd_profile &&
		    (st = lookup(BGP_KIND_BFD, p->bfd_profile, ud)) != BGP_REF_OK) {
			ref_note(buf, len, &off, "spec.bfdProfile", BGP_KIND_BFD, p->bfd_profile,
				 st);
			bad++;
		}
	} else if (k == BGP_KIND_ADVERT) {
		const struct bgp_advert *a = item;

		for (size_t i = 0; i < a->n_peers; i++) {
			if ((st = lookup(BGP_KIND_PEER, a->peers[i], ud)) == BGP_REF_OK)
				continue;
			snprintf(path, sizeof(path), "spec.peers[%zu]", i);
			ref_note(buf, len, &off, path, BGP_KIND_PEER, a->peers[i], st);
			bad++;
		}
		for (size_t i = 0; i < a->n_pools; i++) {
			if ((st = lookup(BGP_KIND_POOL, a->pools[i], ud)) == BGP_REF_OK)
				continue;
			snprintf(path, sizeof(path), "spec.ipAddressPools[%zu]", i);
			ref_note(buf, len, &off, path, BGP_KIND_POOL, a->pools[i], st);
			bad++;
		}
	}
	return bad;
}

void bgp_status_verdict(enum bgp_kind k, const void *item, const char *why,
			bgp_ref_lookup_fn lookup, void *userdata, struct bgp_verdict *v)
{
	v->n = 0;
	v->refs_msg[0] = '\0';
	if (!item) {
		cond_add(v, "Valid", false, "InvalidSpec", why && *why ? why : "invalid",
			 "InvalidConfiguration");
		return;
	}
	cond_add(v, "Valid", true, "Valid", "", NULL);
	if (k == BGP_KIND_PEER || k == BGP_KIND_ADVERT) {
		if (check_refs(k, item, lookup, userdata, v->refs_msg, sizeof(v->refs_msg)))
			cond_add(v, "References", false, "MissingReference", v->refs_msg,
				 "MissingReference");
		else
			cond_add(v, "References", true, "Resolved", "", NULL);
	}
	if (k == BGP_KIND_PEER) {
		if (((const struct bgp_peer *)item)->vrf)
			cond_add(v, "Supported", false, "VRFNotSupported",
				 "spec.vrf: VRFs are not supported; the speakers do not use this "
				 "peer",
				 "Unsupported");
		else
			cond_add(v, "Supported", true, "Supported", "", NULL);
	}
}

/* The condition of type in conds (borrowed), or NULL. */
static json_t *cond_find(json_t *conds, const char *type)
{
	json_t *c;
	size_t i;

	json_array_foreach (conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));

		if (t && strcmp(t, type) == 0)
			return c;
	}
	return NULL;
}

json_t *bgp_status_conditions(const struct bgp_verdict *v, json_t *have, int64_t generation,
			      const char *now, bool *ret_changed)
{
	json_t *out = json_array(), *c;
	size_t i;

	if (!json_is_array(have))
		have = NULL;
	if (!out)
		return NULL;
	for (i = 0; i < v->n; i++) {
		const struct bgp_cond *w = &v->conds[i];
		const char *status = w->ok ? "True" : "False";
		json_t *h = have ? cond_find(have, w->type) : NULL;
		const char *hs = json_string_value(json_object_get(h, "status"));
		const char *ltt = json_string_value(json_object_get(h, "lastTransitionTime"));

		if (!hs || strcmp(hs, status) != 0 || !ltt)
			ltt = now;
		c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "type", w->type, "status", status,
			      "reason", w->reason, "message", w->message, "observedGeneration",
			      (json_int_t)generation, "lastTransitionTime", ltt);
		if (!c || json_array_append_new(out, c) < 0) {
			json_decref(out);
			return NULL;
		}
	}
	json_array_foreach (have, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));

		if (!is_managed(t) && json_array_append(out, c) < 0) {
			json_decref(out);
			return NULL;
		}
	}
	*ret_changed = !have || !json_equal(out, have);
	return out;
}

/* A copy of conds without lastTransitionTime (new), or NULL. */
static json_t *strip_ltt(json_t *conds)
{
	json_t *copy = json_is_array(conds) ? json_deep_copy(conds) : json_array(), *c;
	size_t i;

	json_array_foreach (copy, i, c)
		json_object_del(c, "lastTransitionTime");
	return copy;
}

bool bgp_status_conditions_equal(json_t *a, json_t *b)
{
	json_t *x = strip_ltt(a), *y = strip_ltt(b);
	bool eq = x && y && json_equal(x, y);

	json_decref(x);
	json_decref(y);
	return eq;
}

bool bgp_status_is_new_problem(const struct bgp_cond *c, json_t *have)
{
	json_t *h = json_is_array(have) ? cond_find(have, c->type) : NULL;
	const char *hs = json_string_value(json_object_get(h, "status"));
	const char *hm = json_string_value(json_object_get(h, "message"));

	if (c->ok)
		return false;
	return !hs || strcmp(hs, "False") != 0 || !hm || strcmp(hm, c->message) != 0;
}
