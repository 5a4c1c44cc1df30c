/* The datapath (see datapath.h): which Service ports to steer (pure), the
 * nftables script for them (pure), and the actuator that applies it with
 * libnftables and keeps the announced addresses local with krt. */
#include "datapath.h"

#include <errno.h>
#include <jansson.h>
#include <linux/netfilter.h>
#include <linux/rtnetlink.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "krt.h"
#include "nft_dl.h"

/* ---- sets of entries ---- */

void datapath_set_clear(struct datapath_set *set)
{
	free(set->v);
	*set = (struct datapath_set){ 0 };
}

int datapath_set_add(struct datapath_set *set, const struct datapath_entry *e)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 16;
		struct datapath_entry *v = realloc(set->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		set->v = v;
		set->cap = cap;
	}
	set->v[set->n++] = *e;
	return 0;
}

static int addr_cmp(const void *a, const void *b)
{
	return ip_cmp(a, b);
}

/* Whether a is in addrs[0..n), sorted. */
static bool addr_in(const struct ip_addr *a, const struct ip_addr *addrs, size_t n)
{
	return n && bsearch(a, addrs, n, sizeof(*addrs), addr_cmp) != NULL;
}

static bool external_allowed(const struct ip_addr *a, const struct obj_pool *const *pools,
			     size_t n_pools)
{
	for (size_t i = 0; i < n_pools; i++)
		if (pools[i]->allow_external && obj_pool_contains(pools[i], a))
			return true;
	return false;
}

/* Appends the entries of svc's ports for address a. */
static int service_entries(const struct obj_service *svc, const struct ip_addr *a,
			   struct datapath_set *ret)
{
	const struct ip_addr *cip = NULL;

	for (size_t i = 0; i < svc->n_cluster_ips && !cip; i++)
		if (svc->cluster_ips[i].family == a->family)
			cip = &svc->cluster_ips[i];
	for (size_t i = 0; i < svc->n_ports; i++) {
		const struct obj_service_port *p = &svc->ports[i];
		struct datapath_entry e = {
			.addr = *a, .proto = p->protocol, .port = p->port, .node_port = p->node_port
		};
		int r;

		if (!p->node_port) {
			if (!cip)
				continue; /* nowhere to steer it */
			e.cluster_ip = *cip;
		}
		r = datapath_set_add(ret, &e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* datapath_entries_for() for one Service; addrs sorted. */
static int svc_entries_for(const struct obj_service *svc, const struct obj_pool *const *pools,
			   size_t n_pools, const struct ip_addr *addrs, size_t n_addrs,
			   struct datapath_set *ret)
{
	int r;

	for (size_t k = 0; k < svc->n_ingress; k++) {
		if (!svc->load_balancer || !addr_in(&svc->ingress[k], addrs, n_addrs))
			continue;
		r = service_entries(svc, &svc->ingress[k], ret);
		if (r < 0)
			return r;
	}
	for (size_t k = 0; k < svc->n_external; k++) {
		const struct ip_addr *a = &svc->external[k];

		if (!addr_in(a, addrs, n_addrs) || !external_allowed(a, pools, n_pools))
			continue;
		r = service_entries(svc, a, ret);
		if (r < 0)
			return r;
	}
	return 0;
}

int datapath_entries_for(const struct obj_service *const *svcs, size_t n_svcs,
			 const struct obj_pool *const *pools, size_t n_pools,
			 const struct ip_addr *addrs_in, size_t n_addrs, struct datapath_set *ret)
{
	struct ip_addr *addrs = malloc((n_addrs ? n_addrs : 1) * sizeof(*addrs));
	int r = 0;

	if (!addrs)
		return -ENOMEM;
	if (n_addrs) {
		size_t k = 1;

		memcpy(addrs, addrs_in, n_addrs * sizeof(*addrs));
		/* Callers usually pass them sorted: one check, no sort. */
		while (k < n_addrs && ip_cmp(&addrs[k - 1], &addrs[k]) <= 0)
			k++;
		if (k < n_addrs)
			qsort(addrs, n_addrs, sizeof(*addrs), addr_cmp);
	}
	for (size_t i = 0; i < n_svcs && r == 0; i++)
		r = svc_entries_for(svcs[i], pools, n_pools, addrs, n_addrs, ret);
	free(addrs);
	return r;
}

/* ---- normalization ---- */

static int entry_cmp(const void *pa, const void *pb)
{
	const struct datapath_entry *a = pa, *b = pb;
	int c = ip_cmp(&a->addr, &b->addr);

	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->node_port != b->node_port)
		return a->node_port < b->node_port ? -1 : 1;
	return ip_cmp(&a->cluster_ip, &b->cluster_ip);
}

static bool same_key(const struct datapath_entry *a, const struct datapath_entry *b)
{
	return ip_equal(&a->addr, &b->addr) && a->proto == b->proto && a->port == b->port;
}

size_t datapath_normalize(struct datapath_entry *e, size_t n, size_t *ret_conflicts)
{
	size_t k = 0, conflicts = 0;

	if (n)
		qsort(e, n, sizeof(*e), entry_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k && same_key(&e[k - 1], &e[i])) {
			if (entry_cmp(&e[k - 1], &e[i]) != 0)
				conflicts++;
			continue;
		}
		e[k++] = e[i];
	}
	n = k;
	/* Within one address and protocol (adjacent after sorting): a NodePort
	 * used twice, or a ClusterIP entry on a port another entry uses as
	 * its NodePort, would make the reply rewrite ambiguous. Kept entries
	 * of the group are e[k0..k), those still to look at e[j+1..end). */
	k = 0;
	for (size_t i = 0, end; i < n; i = end) {
		size_t k0 = k;

		for (end = i;
		     end < n && ip_equal(&e[end].addr, &e[i].addr) && e[end].proto == e[i].proto;
		     end++)
			;
		for (size_t j = i; j < end; j++) {
			bool bad = false;

			for (size_t m = k0; m < k && !bad; m++)
				bad = e[j].node_port ? e[m].node_port == e[j].node_port
						     : e[m].node_port == e[j].port;
			for (size_t m = j + 1; m < end && !bad && !e[j].node_port; m++)
				bad = e[m].node_port == e[j].port;
			if (bad)
				conflicts++;
			else
				e[k++] = e[j];
		}
	}
	if (ret_conflicts)
		*ret_conflicts = conflicts;
	return k;
}

/* ---- rendering ---- */

static const char *const PROTO_NAME[] = { "tcp", "udp", "sctp" };
static const int PROTO_NUM[] = { 6, 17, 132 };
#define N_PROTO 3

void datapath_counter_name(const struct ip_addr *addr, char *buf, size_t len)
{
	char ip[IP_STRLEN];
	size_t i;

	ip_format(addr, ip, sizeof(ip));
	for (i = 0; ip[i]; i++)
		if (ip[i] == '.' || ip[i] == ':')
			ip[i] = '_';
	snprintf(buf, len, "a%c_%s", addr->family == AF_INET6 ? '6' : '4', ip);
}

static void format_hostport(const struct ip_addr *a, uint16_t port, char *buf, size_t len)
{
	char ip[IP_STRLEN];

	ip_format(a, ip, sizeof(ip));
	snprintf(buf, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
}

void datapath_entry_describe(const struct datapath_entry *e, char *buf, size_t len)
{
	char from[IP_STRLEN + 8], to[IP_STRLEN + 8];

	format_hostport(&e->addr, e->port, from, sizeof(from));
	if (e->node_port) {
		snprintf(buf, len, "%s %s -> NodePort %u", obj_protocol_str(e->proto), from,
			 e->node_port);
		return;
	}
	format_hostport(&e->cluster_ip, e->port, to, sizeof(to));
	snprintf(buf, len, "%s %s -> ClusterIP %s", obj_protocol_str(e->proto), from, to);
}

/* Whether entry e renders into the maps of family fam (4/6), protocol p
 * (-1: any) and kind (node port or cluster). A NodePort entry whose port
 * is its NodePort needs no rewrite and renders nowhere. */
static bool is_kind(const struct datapath_entry *e, int fam, int p, bool node)
{
	if ((fam == 6) != (e->addr.family == AF_INET6))
		return false;
	if (p >= 0 && (int)e->proto != p)
		return false;
	if (node)
		return e->node_port && e->node_port != e->port;
	return !e->node_port;
}

static bool any_kind(const struct datapath_entry *e, size_t n, int fam, int p, bool node)
{
	for (size_t i = 0; i < n; i++)
		if (is_kind(&e[i], fam, p, node))
			return true;
	return false;
}

/* Whether address.proto.port is some entry's key (then a packet to it is
 * steered, not dropped as a direct NodePort access). */
static int key_cmp(const void *pa, const void *pb)
{
	const struct datapath_entry *a = pa, *b = pb;
	int c = ip_cmp(&a->addr, &b->addr);

	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return a->port < b->port ? -1 : a->port > b->port;
}

/* e[0..n) is normalized, so sorted by address, protocol, port. */
static bool is_key(const struct datapath_entry *e, size_t n, const struct ip_addr *a,
		   enum obj_protocol p, uint16_t port)
{
	struct datapath_entry k = { .addr = *a, .proto = p, .port = port };

	return n && bsearch(&k, e, n, sizeof(*e), key_cmp) != NULL;
}

enum elem_kind { EL_NP, EL_STEER, EL_UNSTEER, EL_CLUSTER };

/* Writes ` elements = { ... }` lines for one set or map, nothing when empty. */
static void render_elements(FILE *f, const struct datapath_entry *e, size_t n, int fam, int p,
			    enum elem_kind kind)
{
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		char ip[IP_STRLEN], cip[IP_STRLEN];

		if (!is_kind(&e[i], fam, p, kind != EL_CLUSTER))
			continue;
		if (kind == EL_NP && is_key(e, n, &e[i].addr, e[i].proto, e[i].node_port))
			continue;
		ip_format(&e[i].addr, ip, sizeof(ip));
		fprintf(f, "%s", first ? "\t\telements = { " : ",\n\t\t\t     ");
		first = false;
		switch (kind) {
		case EL_NP:
			fprintf(f, "%s . %u", ip, e[i].node_port);
			break;
		case EL_STEER:
			fprintf(f, "%s . %u : %u", ip, e[i].port, e[i].node_port);
			break;
		case EL_UNSTEER:
			fprintf(f, "%s . %u : %u", ip, e[i].node_port, e[i].port);
			break;
		case EL_CLUSTER:
			ip_format(&e[i].cluster_ip, cip, sizeof(cip));
			fprintf(f, "%s . %d . %u : %s", ip, PROTO_NUM[e[i].proto], e[i].port, cip);
			break;
		}
	}
	if (!first)
		fprintf(f, " }\n");
}

static bool has_np_elements(const struct datapath_entry *e, size_t n, int fam, int p)
{
	for (size_t i = 0; i < n; i++)
		if (is_kind(&e[i], fam, p, true) &&
		    !is_key(e, n, &e[i].addr, e[i].proto, e[i].node_port))
			return true;
	return false;
}

int datapath_render(const struct datapath_entry *e, size_t n, char **ret_script, size_t *ret_rules)
{
	static const int FAMS[] = { 4, 6 };
	char *buf = NULL;
	size_t len = 0, rules = 0;
	FILE *f = open_memstream(&buf, &len);
	bool any_addr[2] = { false, false };

	if (!f)
		return -ENOMEM;
	/* Creating the table first makes the delete succeed when it is absent:
	 * the whole buffer is one transaction, so the kernel swaps the old
	 * table for the new one atomically. */
	fprintf(f, "table inet " DATAPATH_TABLE " {}\ndelete table inet " DATAPATH_TABLE "\n");
	if (!n)
		goto done;
	fprintf(f, "table inet " DATAPATH_TABLE " {\n"
		   "\tcomment \"ironlb-speaker datapath: rewritten as a whole by the speaker\"\n");
	/* Per-address counters, and the maps from address to counter. */
	for (size_t i = 0; i < n; i++) {
		char name[IP_STRLEN + 8];

		if (i && ip_equal(&e[i].addr, &e[i - 1].addr))
			continue;
		any_addr[e[i].addr.family == AF_INET6] = true;
		datapath_counter_name(&e[i].addr, name, sizeof(name));
		fprintf(f, "\tcounter %s {\n\t}\n", name);
	}
	for (size_t fi = 0; fi < 2; fi++) {
		bool first = true;

		if (!any_addr[fi])
			continue;
		fprintf(f, "\tmap addr%d {\n\t\ttype %s : counter\n", FAMS[fi],
			fi ? "ipv6_addr" : "ipv4_addr");
		for (size_t i = 0; i < n; i++) {
			char ip[IP_STRLEN], name[IP_STRLEN + 8];

			if ((e[i].addr.family == AF_INET6) != (fi == 1) ||
			    (i && ip_equal(&e[i].addr, &e[i - 1].addr)))
				continue;
			ip_format(&e[i].addr, ip, sizeof(ip));
			datapath_counter_name(&e[i].addr, name, sizeof(name));
			fprintf(f, "%s%s : \"%s\"", first ? "\t\telements = { " : ",\n\t\t\t     ",
				ip, name);
			first = false;
		}
		fprintf(f, " }\n\t}\n");
	}
	for (size_t fi = 0; fi < 2; fi++) {
		int fam = FAMS[fi];
		const char *at = fi ? "ipv6_addr" : "ipv4_addr";

		for (int p = 0; p < N_PROTO; p++) {
			if (!any_kind(e, n, fam, p, true))
				continue;
			if (has_np_elements(e, n, fam, p)) {
				fprintf(f, "\tset np_%s%d {\n\t\ttype %s . inet_service\n",
					PROTO_NAME[p], fam, at);
				render_elements(f, e, n, fam, p, EL_NP);
				fprintf(f, "\t}\n");
			}
			fprintf(f,
				"\tmap steer_%s%d {\n\t\ttype %s . inet_service : inet_service\n",
				PROTO_NAME[p], fam, at);
			render_elements(f, e, n, fam, p, EL_STEER);
			fprintf(f, "\t}\n");
			fprintf(f,
				"\tmap unsteer_%s%d {\n\t\ttype %s . inet_service : inet_service\n",
				PROTO_NAME[p], fam, at);
			render_elements(f, e, n, fam, p, EL_UNSTEER);
			fprintf(f, "\t}\n");
		}
		if (any_kind(e, n, fam, -1, false)) {
			fprintf(f,
				"\tmap cluster%d {\n\t\ttype %s . inet_proto . inet_service : %s\n",
				fam, at, at);
			render_elements(f, e, n, fam, -1, EL_CLUSTER);
			fprintf(f, "\t}\n");
		}
	}
	/* Before conntrack: the Service port becomes the NodePort. */
	fprintf(f,
		"\tchain steer {\n\t\ttype filter hook prerouting priority raw; policy accept;\n");
	for (size_t fi = 0; fi < 2; fi++) {
		const char *ipk = fi ? "ip6" : "ip";

		for (int p = 0; p < N_PROTO; p++) {
			const char *pn = PROTO_NAME[p];
			int fam = FAMS[fi];

			if (!any_kind(e, n, fam, p, true))
				continue;
			if (has_np_elements(e, n, fam, p)) {
				fprintf(f, "\t\t%s daddr . %s dport @np_%s%d drop\n", ipk, pn, pn,
					fam);
				rules++;
			}
			fprintf(f,
				"\t\t%s dport set %s daddr . %s dport map @steer_%s%d counter name "
				"%s daddr map @addr%d\n",
				pn, ipk, pn, pn, fam, ipk, fam);
			rules++;
		}
	}
	fprintf(f, "\t}\n");
	/* After conntrack, before NAT: the announced address becomes the
	 * ClusterIP for ports without a NodePort. */
	if (any_kind(e, n, 4, -1, false) || any_kind(e, n, 6, -1, false)) {
		fprintf(f,
			"\tchain cluster {\n\t\ttype filter hook prerouting priority %d; policy "
			"accept;\n",
			DATAPATH_CLUSTER_PRIORITY);
		for (size_t fi = 0; fi < 2; fi++) {
			const char *ipk = fi ? "ip6" : "ip";
			int fam = FAMS[fi];

			if (!any_kind(e, n, fam, -1, false))
				continue;
			fprintf(f,
				"\t\t%s daddr . meta l4proto . th dport @cluster%d counter name %s "
				"daddr map @addr%d %s daddr set %s daddr . meta l4proto . th dport "
				"map @cluster%d\n",
				ipk, fam, ipk, fam, ipk, ipk, fam);
			rules++;
		}
		fprintf(f, "\t}\n");
	}
	/* After source NAT and conntrack's reverse NAT: replies get the
	 * Service port back (and are counted). */
	fprintf(f, "\tchain unsteer {\n\t\ttype filter hook postrouting priority 300; policy "
		   "accept;\n");
	for (size_t fi = 0; fi < 2; fi++) {
		const char *ipk = fi ? "ip6" : "ip";
		int fam = FAMS[fi];

		for (int p = 0; p < N_PROTO; p++) {
			const char *pn = PROTO_NAME[p];

			if (!any_kind(e, n, fam, p, true))
				continue;
			fprintf(f,
				"\t\t%s sport set %s saddr . %s sport map @unsteer_%s%d counter "
				"name "
				"%s saddr map @addr%d\n",
				pn, ipk, pn, pn, fam, ipk, fam);
			rules++;
		}
		if (any_kind(e, n, fam, -1, false)) {
			fprintf(f,
				"\t\t%s saddr . meta l4proto . th sport @cluster%d counter name %s "
				"saddr map @addr%d\n",
				ipk, fam, ipk, fam);
			rules++;
		}
	}
	fprintf(f, "\t}\n}\n");
done:
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*ret_script = buf;
	if (ret_rules)
		*ret_rules = rules;
	return 0;
}

/* ---- the actuator ---- */

#define CMD_REMOVE "table inet " DATAPATH_TABLE " {}\ndelete table inet " DATAPATH_TABLE "\n"
#define CMD_LIST "list table inet " DATAPATH_TABLE
#define CMD_COUNTERS "list counters table inet " DATAPATH_TABLE

struct datapath {
	struct nft_ctx *nft;
	struct krt *krt;
	struct datapath_entry *entries; /* in force, normalized */
	size_t n;
	char *script;  /* rendered from entries */
	char *listing; /* the table as listed after the last apply; NULL: absent */
	bool dirty;    /* the last apply failed: try again at the next check */
	struct datapath_stats stats;
	struct datapath_count *base; /* counts of earlier incarnations of the table */
	size_t n_base;
	char err[1024];
};

/* Runs one nftables command buffer with the given output flags. 0 and
 * *ret_out (may be NULL; the context's buffer) or -EIO with d->err set. */
static int nft_run(struct datapath *d, const char *cmd, unsigned flags, const char **ret_out)
{
	const char *out, *err;
	size_t len;
	int r;

	if (datapath_prepare(d, NULL) < 0)
		return -EIO;
	nft_ctx_output_set_flags(d->nft, flags);
	r = nft_run_cmd_from_buffer(d->nft, cmd);
	out = nft_ctx_get_output_buffer(d->nft);
	err = nft_ctx_get_error_buffer(d->nft);
	if (r != 0) {
		snprintf(d->err, sizeof(d->err), "%s", err && *err ? err : "nftables refused it");
		len = strlen(d->err);
		while (len && (d->err[len - 1] == '\n' || d->err[len - 1] == ' '))
			d->err[--len] = '\0';
		return -EIO;
	}
	if (ret_out)
		*ret_out = out ? out : "";
	return 0;
}

int datapath_prepare(struct datapath *d, const char **ret_err)
{
	if (d->nft)
		return 0;
	d->nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!d->nft || nft_ctx_buffer_output(d->nft) || nft_ctx_buffer_error(d->nft)) {
		nft_ctx_free(d->nft);
		d->nft = NULL;
		snprintf(d->err, sizeof(d->err),
			 "cannot create an nftables context (is libnftables.so.1 installed?)");
		if (ret_err)
			*ret_err = d->err;
		return -ENOENT;
	}
	return 0;
}

int datapath_open(struct datapath **ret)
{
	struct datapath *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	r = krt_open(&d->krt);
	if (r < 0) {
		datapath_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

void datapath_free(struct datapath *d)
{
	if (!d)
		return;
	if (d->nft)
		nft_ctx_free(d->nft);
	krt_close(d->krt);
	free(d->entries);
	free(d->script);
	free(d->listing);
	free(d->base);
	free(d);
}

struct named {
	char name[IP_STRLEN + 8];
	size_t idx;
};

static int named_cmp(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

/* Counter values in the kernel's table now, per address of the entries
 * in force (absent counters: 0), sorted by address. */
static int read_counts(struct datapath *d, struct datapath_count **ret, size_t *ret_n)
{
	struct datapath_count *c = calloc(d->n ? d->n : 1, sizeof(*c));
	struct named *names = calloc(d->n ? d->n : 1, sizeof(*names));
	size_t n = 0, i;
	const char *out;
	json_t *root = NULL, *arr, *item;

	if (!c || !names) {
		free(c);
		free(names);
		return -ENOMEM;
	}
	for (i = 0; i < d->n; i++)
		if (!n || !ip_equal(&c[n - 1].addr, &d->entries[i].addr)) {
			c[n].addr = d->entries[i].addr;
			datapath_counter_name(&c[n].addr, names[n].name, sizeof(names[n].name));
			names[n].idx = n;
			n++;
		}
	qsort(names, n, sizeof(*names), named_cmp);
	if (n && nft_run(d, CMD_COUNTERS, NFT_CTX_OUTPUT_JSON, &out) == 0)
		root = json_loads(out, 0, NULL); /* new */
	arr = json_object_get(root, "nftables"); /* borrowed */
	json_array_foreach (arr, i, item) {
		json_t *ctr = json_object_get(item, "counter"); /* borrowed */
		const char *name = json_string_value(json_object_get(ctr, "name"));
		json_t *pk = json_object_get(ctr, "packets"), *by = json_object_get(ctr, "bytes");
		struct named key, *hit;

		if (!name || !json_is_integer(pk) || !json_is_integer(by) ||
		    strlen(name) >= sizeof(key.name))
			continue;
		strcpy(key.name, name);
		hit = bsearch(&key, names, n, sizeof(*names), named_cmp);
		if (hit) {
			c[hit->idx].packets = (uint64_t)json_integer_value(pk);
			c[hit->idx].bytes = (uint64_t)json_integer_value(by);
		}
	}
	json_decref(root);
	free(names);
	*ret = c;
	*ret_n = n;
	return 0;
}

static int count_cmp(const void *a, const void *b)
{
	return ip_cmp(&((const struct datapath_count *)a)->addr,
		      &((const struct datapath_count *)b)->addr);
}

/* The base of address a (d->base is sorted by address), or NULL. */
static struct datapath_count *base_of(struct datapath *d, const struct ip_addr *a)
{
	struct datapath_count key = { .addr = *a };

	return d->n_base ? bsearch(&key, d->base, d->n_base, sizeof(key), count_cmp) : NULL;
}

/* Before the table is replaced (and its counters zeroed): adds what the
 * kernel counted to the base of every address, so the totals never go
 * down. */
static void fold_counts(struct datapath *d)
{
	struct datapath_count *c, *b;
	size_t n, added = 0;

	if (!d->listing || read_counts(d, &c, &n) < 0)
		return;
	b = realloc(d->base, (d->n_base + n + 1) * sizeof(*b));
	if (!b) {
		free(c);
		return;
	}
	d->base = b;
	for (size_t i = 0; i < n; i++) {
		struct datapath_count *have = base_of(d, &c[i].addr);

		if (have) {
			have->packets += c[i].packets;
			have->bytes += c[i].bytes;
		} else {
			d->base[d->n_base + added++] = c[i];
		}
	}
	if (added) {
		d->n_base += added;
		qsort(d->base, d->n_base, sizeof(*d->base), count_cmp);
	}
	free(c);
}

/* Forgets the base of addresses no longer steered. */
static void prune_base(struct datapath *d)
{
	size_t k = 0;

	for (size_t i = 0; i < d->n_base; i++) {
		const struct datapath_entry *e;

		if (datapath_entries_of(d, &d->base[i].addr, &e))
			d->base[k++] = d->base[i];
	}
	d->n_base = k;
}

/* The local routes for the entries' addresses, then krt_sync. */
static int sync_routes(struct datapath *d, struct krt_sync_stats *st)
{
	struct krt_route *want = calloc(d->n ? d->n : 1, sizeof(*want));
	size_t n = 0;
	int r;

	if (!want)
		return -ENOMEM;
	for (size_t i = 0; i < d->n; i++) {
		if (n && ip_equal(&want[n - 1].dst.addr, &d->entries[i].addr))
			continue;
		prefix_from_addr(&d->entries[i].addr, ip_bits(d->entries[i].addr.family),
				 &want[n].dst);
		want[n].table = KRT_TABLE_LOCAL;
		want[n].type = RTN_LOCAL;
		n++;
	}
	r = krt_sync(d->krt, KRT_TABLE_LOCAL, KRT_TABLE_LOCAL, want, n, st);
	free(want);
	if (r < 0)
		snprintf(d->err, sizeof(d->err), "cannot set the local routes: %s", strerror(-r));
	return r;
}

/* Replaces the table with d->script and syncs the routes. The counts of
 * the table being replaced must have been folded already; *ret_replaced
 * says whether the kernel took the script (its counters are gone then). */
static int apply(struct datapath *d, bool *ret_replaced)
{
	struct krt_sync_stats st = { 0 };
	const char *out;
	int r;

	d->dirty = true;
	d->stats.applied = false;
	r = nft_run(d, d->script, 0, NULL);
	*ret_replaced = r == 0;
	if (r == 0)
		r = sync_routes(d, &st);
	free(d->listing);
	d->listing = NULL;
	if (r == 0 && d->n) {
		r = nft_run(d, CMD_LIST, NFT_CTX_OUTPUT_STATELESS, &out);
		if (r == 0 && !(d->listing = strdup(out)))
			r = -ENOMEM;
	}
	if (r < 0) {
		d->stats.applies_failed++;
		return r;
	}
	d->stats.applies_ok++;
	d->dirty = false;
	d->stats.applied = true;
	return 0;
}

/* Snapshot of the base, to undo a fold when the table was not replaced. */
static struct datapath_count *base_save(const struct datapath *d, size_t *ret_n)
{
	struct datapath_count *c = malloc((d->n_base ? d->n_base : 1) * sizeof(*c));

	if (c && d->n_base)
		memcpy(c, d->base, d->n_base * sizeof(*c));
	*ret_n = d->n_base;
	return c;
}

static void base_restore(struct datapath *d, struct datapath_count *saved, size_t n)
{
	if (!saved)
		return;
	free(d->base);
	d->base = saved;
	d->n_base = n;
}

int datapath_update(struct datapath *d, const struct datapath_entry *e, size_t n,
		    const char **ret_err)
{
	struct datapath_entry *v = malloc((n ? n : 1) * sizeof(*v));
	struct datapath_count *saved;
	char *script;
	size_t rules, conflicts, n_saved;
	bool replaced;
	int r;

	if (!v)
		return -ENOMEM;
	if (n)
		memcpy(v, e, n * sizeof(*v));
	n = datapath_normalize(v, n, &conflicts);
	r = datapath_render(v, n, &script, &rules);
	if (r < 0) {
		free(v);
		return r;
	}
	d->stats.conflicts = conflicts;
	if (!d->dirty && d->script && strcmp(script, d->script) == 0) {
		free(script);
		free(v);
		return 0;
	}
	/* The counts of the table about to go are keyed by the old entries. */
	saved = base_save(d, &n_saved);
	fold_counts(d);
	free(d->entries);
	d->entries = v;
	d->n = n;
	free(d->script);
	d->script = script;
	d->stats.rules = rules;
	r = apply(d, &replaced);
	if (!replaced) {
		base_restore(d, saved, n_saved);
		saved = NULL;
	}
	free(saved);
	prune_base(d);
	if (r < 0 && ret_err)
		*ret_err = d->err;
	return r;
}

int datapath_check(struct datapath *d, bool *ret_repaired, const char **ret_err)
{
	struct krt_sync_stats st = { 0 };
	struct datapath_count *saved;
	const char *out;
	size_t n_saved;
	bool same, replaced;
	int r;

	*ret_repaired = false;
	if (!d->script)
		return 0; /* nothing desired yet */
	if (!d->dirty) {
		r = nft_run(d, CMD_LIST, NFT_CTX_OUTPUT_STATELESS, &out);
		same = d->listing ? r == 0 && strcmp(out, d->listing) == 0 : r < 0;
		if (same) {
			r = sync_routes(d, &st);
			if (r < 0) {
				if (ret_err)
					*ret_err = d->err;
				return r;
			}
			if (!st.added && !st.removed)
				return 0;
			d->stats.repairs++;
			*ret_repaired = true;
			return 0;
		}
		d->stats.repairs++;
		*ret_repaired = true;
	}
	saved = base_save(d, &n_saved);
	fold_counts(d);
	r = apply(d, &replaced);
	if (!replaced) {
		base_restore(d, saved, n_saved);
		saved = NULL;
	}
	free(saved);
	if (r < 0 && ret_err)
		*ret_err = d->err;
	return r;
}

int datapath_remove_all(struct datapath *d, const char **ret_err)
{
	struct krt_sync_stats st;
	/* Asked first without libnftables: with --datapath=off there is
	 * normally nothing to remove, and then the library stays unloaded. */
	int r = nft_table_exists(NFPROTO_INET, DATAPATH_TABLE), r2;

	if (r != 0)
		r = nft_run(d, CMD_REMOVE, 0, NULL);

	free(d->entries);
	d->entries = NULL;
	d->n = 0;
	r2 = sync_routes(d, &st);
	free(d->script);
	d->script = NULL;
	free(d->listing);
	d->listing = NULL;
	d->n_base = 0;
	d->dirty = false;
	d->stats.rules = 0;
	d->stats.applied = false;
	if ((r < 0 || r2 < 0) && ret_err)
		*ret_err = d->err;
	return r < 0 ? r : r2;
}

size_t datapath_entries(const struct datapath *d, const struct datapath_entry **ret)
{
	*ret = d->entries;
	return d->n;
}

size_t datapath_entries_of(const struct datapath *d, const struct ip_addr *a,
			   const struct datapath_entry **ret)
{
	size_t lo = 0, hi = d->n, end;

	while (lo < hi) { /* first entry with address >= a */
		size_t mid = lo + (hi - lo) / 2;

		if (ip_cmp(&d->entries[mid].addr, a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < d->n && ip_equal(&d->entries[end].addr, a); end++)
		;
	*ret = d->entries + lo;
	return end - lo;
}

const struct datapath_stats *datapath_stats(const struct datapath *d)
{
	return &d->stats;
}

int datapath_counts(struct datapath *d, struct datapath_count **ret, size_t *ret_n)
{
	struct datapath_count *c;
	size_t n;
	int r = read_counts(d, &c, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct datapath_count *b = base_of(d, &c[i].addr);

		if (b) {
			c[i].packets += b->packets;
			c[i].bytes += b->bytes;
		}
	}
	*ret = c;
	*ret_n = n;
	return 0;
}
