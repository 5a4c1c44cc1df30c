/* BIRD 2 configuration text for this node (see bird_conf.h for the shape),
 * and its atomic write to disk.
 *
 * Facts of BIRD 2.0.12 this file relies on (each checked with `bird -p` and
 * a running BIRD, tests/integration/bird_conf_parse.sh):
 *  - quoted strings have no escapes: every byte up to the next '"' is taken
 *    as is, a newline ends the file's parse with an error. A password with a
 *    '"' cannot be written at all, a backslash is written as itself;
 *  - `krt_source` of a learned kernel route is its rtm_protocol;
 *  - BFD options given in a BGP protocol's `bfd { ... }` block apply to
 *    that protocol's session and override the bfd protocol's interface
 *    options, so intervals are set per neighbor there and the single
 *    `protocol bfd` stays empty. BIRD has no BFD echo mode and always
 *    sends single-hop BFD with TTL 255: a profile's echo and minimumTtl
 *    settings have nothing to map to;
 *  - on a direct (single-hop eBGP) session, `next hop self` in the channel
 *    of the other address family takes the interface's address of that
 *    family, so a direct session carries both families. On a multihop
 *    session (iBGP, or eBGP with ebgpMultiHop) there is no such interface
 *    and BIRD would send the unspecified address as next hop: such a
 *    session carries only the peer address's family.
 */
#include "bird_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ironlb/kube_util.h"
#include "krt.h"

/* Receive buffer of BIRD's netlink socket (bytes), written in every kernel
 * protocol. */
#define BIRD_NETLINK_RX_BUFFER (8u << 20)

/* Longest object name written into a comment. */
#define NAME_MAX_COMMENT 253

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Formats the reason into err (if any) and returns -EINVAL. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Appends s keeping only [A-Za-z0-9._-]: object names reach the text only in
 * comments, and even there nothing may end the comment line. */
static void put_sanitized(struct kube_buf *b, const char *s)
{
	size_t n = 0;

	if (!s || !*s) {
		kube_buf_puts(b, "-");
		return;
	}
	for (; *s && n < NAME_MAX_COMMENT; s++) {
		char c = *s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-') {
			kube_buf_append(b, &c, 1);
			n++;
		}
	}
}

static const char *name_or(const char *s)
{
	return s ? s : "(unnamed)";
}

/* A password BIRD can read back byte for byte inside "...": no '"' (no
 * escapes exist), no control character (a newline breaks the string, the
 * rest has no business in a TCP-MD5 key). 0 or -EINVAL. */
static int check_password(const char *peer, const char *pw, char *err, size_t errlen)
{
	size_t n = strlen(pw);

	if (!n)
		return fail(err, errlen, "BGPPeer %s: password: empty", peer);
	if (n > BGP_PASSWORD_MAX)
		return fail(err, errlen, "BGPPeer %s: password: longer than %d bytes", peer,
			    BGP_PASSWORD_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)pw[i];

		if (c == '"')
			return fail(err, errlen,
				    "BGPPeer %s: password: contains '\"', which a BIRD 2 "
				    "configuration cannot quote",
				    peer);
		if (c < 0x20 || c == 0x7f)
			return fail(err, errlen,
				    "BGPPeer %s: password: contains control character 0x%02x", peer,
				    c);
	}
	return 0;
}

static bool is_v4_nonzero(const struct ip_addr *a)
{
	return a->family == AF_INET && (a->bytes[0] | a->bytes[1] | a->bytes[2] | a->bytes[3]);
}

static bool is_family(const struct ip_addr *a)
{
	return a->family == AF_INET || a->family == AF_INET6;
}

/* Families a peer's session carries: its own, plus the other one on a
 * direct eBGP session (see the top of this file). Bit 0: IPv4, bit 1: IPv6. */
static unsigned peer_families(const struct bgp_peer *p)
{
	unsigned own = p->peer_addr.family == AF_INET ? 1u : 2u;
	bool direct = p->my_asn != p->peer_asn && !p->ebgp_multihop;

	return direct ? 3u : own;
}

static const char *const FAM_SUFFIX[2] = { "v4", "v6" };
static const char *const FAM_CHANNEL[2] = { "ipv4", "ipv6" };

static int check_policy(const struct bird_conf_input *in, size_t i, char *err, size_t errlen)
{
	const struct bird_policy *pol = &in->policies[i];
	const struct bgp_advert *a = pol->adv;

	if (!a)
		return fail(err, errlen, "policy %zu: no BGPAdvertisement", i);
	/* The kernel's own tables hold everyone's routes, and table local holds
	 * ironlb's datapath routes of the same protocol: never learn those. */
	if (pol->table == 0 || pol->table == 253 || pol->table == 254 ||
	    pol->table == KRT_TABLE_LOCAL)
		return fail(err, errlen, "BGPAdvertisement %s: kernel table %u is reserved",
			    name_or(a->name), pol->table);
	for (size_t k = 0; k < i; k++)
		if (in->policies[k].table == pol->table)
			return fail(
				err, errlen,
				"BGPAdvertisement %s: kernel table %u already used by policy %zu",
				name_or(a->name), pol->table, k);
	if (a->n_communities && !a->communities)
		return fail(err, errlen, "BGPAdvertisement %s: communities missing",
			    name_or(a->name));
	for (size_t k = 0; k < a->n_communities; k++) {
		const struct bgp_community *c = &a->communities[k];

		if (!c->large && (c->a > 65535 || c->b > 65535))
			return fail(err, errlen,
				    "BGPAdvertisement %s: community %u:%u: a part is above 65535",
				    name_or(a->name), c->a, c->b);
	}
	if (a->n_peers && !a->peers)
		return fail(err, errlen, "BGPAdvertisement %s: peers missing", name_or(a->name));
	return 0;
}

static int check_bfd(const char *peer, const struct bgp_bfd_profile *f, char *err, size_t errlen)
{
	/* BIRD takes intervals of 1 ms .. 4294 s (microseconds in 32 bits) and a
	 * multiplier of 1..255. */
	if (f->rx_ms < 1 || f->rx_ms > 4294000 || f->tx_ms < 1 || f->tx_ms > 4294000)
		return fail(err, errlen,
			    "BGPPeer %s: BFDProfile %s: intervals must be 1..4294000 ms", peer,
			    name_or(f->name));
	if (f->multiplier < 1)
		return fail(err, errlen, "BGPPeer %s: BFDProfile %s: detectMultiplier must be >= 1",
			    peer, name_or(f->name));
	return 0;
}

static int check_peer(const struct bird_peer *bp, size_t j, char *err, size_t errlen)
{
	const struct bgp_peer *p = bp->peer;
	const char *name;

	if (!p)
		return fail(err, errlen, "peer %zu: no BGPPeer", j);
	name = name_or(p->name);
	if (!p->my_asn || !p->peer_asn)
		return fail(err, errlen, "BGPPeer %s: myASN and peerASN must be set", name);
	if (!is_family(&p->peer_addr))
		return fail(err, errlen, "BGPPeer %s: peerAddress is not set", name);
	if (p->has_source && p->source_addr.family != p->peer_addr.family)
		return fail(err, errlen,
			    "BGPPeer %s: sourceAddress is not of the peerAddress's family", name);
	if (!p->peer_port)
		return fail(err, errlen, "BGPPeer %s: peerPort 0", name);
	if ((p->hold_s && p->hold_s < 3) || p->hold_s > 65535)
		return fail(err, errlen, "BGPPeer %s: holdTime %us: must be 0 or 3..65535", name,
			    p->hold_s);
	if (p->keepalive_s > p->hold_s)
		return fail(err, errlen, "BGPPeer %s: keepaliveTime %us is above holdTime %us",
			    name, p->keepalive_s, p->hold_s);
	if (p->connect_s > 65535)
		return fail(err, errlen, "BGPPeer %s: connectTime %us: above 65535", name,
			    p->connect_s);
	if (p->has_router_id && !is_v4_nonzero(&p->router_id))
		return fail(err, errlen, "BGPPeer %s: routerID must be a non-zero IPv4 address",
			    name);
	if (bp->password) {
		int r = check_password(name, bp->password, err, errlen);

		if (r < 0)
			return r;
	}
	if (bp->bfd)
		return check_bfd(name, bp->bfd, err, errlen);
	return 0;
}

static void put_addr(struct kube_buf *b, const struct ip_addr *a)
{
	char s[IP_STRLEN];

	kube_buf_puts(b, ip_format(a, s, sizeof(s)));
}

static void render_policy(struct kube_buf *b, const struct bird_conf_input *in, size_t i)
{
	const struct bird_policy *pol = &in->policies[i];
	const struct bgp_advert *a = pol->adv;

	kube_buf_puts(b, "\n# policy ");
	kube_buf_printf(b, "%zu: BGPAdvertisement ", i);
	put_sanitized(b, a->name);
	kube_buf_printf(b, ", kernel table %u\n", pol->table);
	kube_buf_printf(b, "ipv4 table ilb_p%zu_v4;\nipv6 table ilb_p%zu_v6;\n\n", i, i);

	/* Learned routes are ironlb's only (rtm_protocol KRT_PROTO); the
	 * attributes peers see are set here, once per policy. */
	kube_buf_printf(b, "filter ilb_p%zu_import\n{\n", i);
	kube_buf_printf(b, "\tif krt_source != %d then reject;\n", KRT_PROTO);
	if (a->has_local_pref)
		kube_buf_printf(b, "\tbgp_local_pref = %u;\n", a->local_pref);
	for (size_t k = 0; k < a->n_communities; k++) {
		const struct bgp_community *c = &a->communities[k];

		if (c->large)
			kube_buf_printf(b, "\tbgp_large_community.add((%u, %u, %u));\n", c->a, c->b,
					c->c);
		else
			kube_buf_printf(b, "\tbgp_community.add((%u, %u));\n", c->a, c->b);
	}
	kube_buf_puts(b, "\taccept;\n}\n");

	for (int f = 0; f < 2; f++) {
		kube_buf_printf(b, "\nprotocol kernel ilb_p%zu_krt_%s {\n", i, FAM_SUFFIX[f]);
		kube_buf_printf(b, "\tkernel table %u;\n\tlearn;\n", pol->table);
		/* Thousands of routes added at once overflow the default
		 * receive buffer of BIRD's netlink socket: the notifications
		 * lost are only learned at the next scan. */
		kube_buf_printf(b, "\tnetlink rx buffer %u;\n", BIRD_NETLINK_RX_BUFFER);
		if (in->kernel_scan_s)
			kube_buf_printf(b, "\tscan time %u;\n", in->kernel_scan_s);
		kube_buf_printf(b, "\t%s {\n\t\ttable ilb_p%zu_%s;\n", FAM_CHANNEL[f], i,
				FAM_SUFFIX[f]);
		kube_buf_printf(b, "\t\timport filter ilb_p%zu_import;\n", i);
		kube_buf_puts(b, "\t\texport none;\n\t};\n}\n");
	}
}

static void render_peer(struct kube_buf *b, const struct bird_conf_input *in, size_t j)
{
	const struct bird_peer *bp = &in->peers[j];
	const struct bgp_peer *p = bp->peer;
	unsigned fams = peer_families(p);

	kube_buf_printf(b, "\n# peer %zu: BGPPeer ", j);
	put_sanitized(b, p->name);
	if (bp->bfd) {
		kube_buf_puts(b, ", BFDProfile ");
		put_sanitized(b, bp->bfd->name);
	}
	kube_buf_puts(b, "\n");
	for (int f = 0; f < 2; f++)
		if (fams & (1u << f))
			kube_buf_printf(b, "%s table ilb_peer_%zu_%s;\n", FAM_CHANNEL[f], j,
					FAM_SUFFIX[f]);

	for (size_t i = 0; i < in->n_policies; i++) {
		if (!bgp_advert_has_peer(in->policies[i].adv, p->name))
			continue;
		for (int f = 0; f < 2; f++) {
			if (!(fams & (1u << f)))
				continue;
			kube_buf_printf(b, "\nprotocol pipe ilb_p%zu_peer_%zu_%s {\n", i, j,
					FAM_SUFFIX[f]);
			kube_buf_printf(b, "\ttable ilb_p%zu_%s;\n", i, FAM_SUFFIX[f]);
			kube_buf_printf(b, "\tpeer table ilb_peer_%zu_%s;\n", j, FAM_SUFFIX[f]);
			kube_buf_puts(b, "\timport none;\n\texport all;\n}\n");
		}
	}

	kube_buf_printf(b, "\nprotocol bgp ilb_peer_%zu {\n", j);
	if (p->has_router_id) {
		kube_buf_puts(b, "\trouter id ");
		put_addr(b, &p->router_id);
		kube_buf_puts(b, ";\n");
	}
	kube_buf_puts(b, "\tlocal ");
	if (p->has_source) {
		put_addr(b, &p->source_addr);
		kube_buf_puts(b, " ");
	}
	kube_buf_printf(b, "as %u;\n\tneighbor ", p->my_asn);
	put_addr(b, &p->peer_addr);
	kube_buf_printf(b, " port %u as %u;\n", p->peer_port, p->peer_asn);
	kube_buf_printf(b, "\thold time %u;\n", p->hold_s);
	/* 0 with a hold time: BIRD's default, a third of it. */
	if (p->keepalive_s && p->hold_s)
		kube_buf_printf(b, "\tkeepalive time %u;\n", p->keepalive_s);
	/* connectTime also bounds the first connection attempt and the wait
	 * after a session failure: BIRD's defaults (5 s; 60 s doubling up to
	 * 300 s, during which it refuses the peer's connections) would keep
	 * a node withdrawn for a minute after every BFD or hold-timer drop. */
	if (p->connect_s) {
		kube_buf_printf(b, "\tconnect delay time %u;\n", p->connect_s);
		kube_buf_printf(b, "\tconnect retry time %u;\n", p->connect_s);
		kube_buf_printf(b, "\terror wait time %u, %u;\n", p->connect_s,
				p->connect_s > 60 ? p->connect_s : 60);
	}
	if (p->ebgp_multihop && p->my_asn != p->peer_asn)
		kube_buf_puts(b, "\tmultihop;\n");
	if (bp->password)
		kube_buf_printf(b, "\tpassword \"%s\";\n", bp->password);
	if (bp->bfd) {
		const struct bgp_bfd_profile *f = bp->bfd;

		kube_buf_puts(b, "\tbfd {\n");
		kube_buf_printf(b, "\t\tmin rx interval %u ms;\n", f->rx_ms);
		kube_buf_printf(b, "\t\tmin tx interval %u ms;\n", f->tx_ms);
		kube_buf_printf(b, "\t\tmultiplier %u;\n", f->multiplier);
		if (f->passive)
			kube_buf_puts(b, "\t\tpassive on;\n");
		kube_buf_puts(b, "\t};\n");
	}
	/* The routes are blackholes in this node's tables: the next hop peers
	 * must use is this node, always. */
	for (int f = 0; f < 2; f++) {
		if (!(fams & (1u << f)))
			continue;
		kube_buf_printf(b, "\t%s {\n\t\ttable ilb_peer_%zu_%s;\n", FAM_CHANNEL[f], j,
				FAM_SUFFIX[f]);
		kube_buf_puts(b, "\t\timport none;\n\t\texport all;\n\t\tnext hop self;\n\t};\n");
	}
	kube_buf_puts(b, "}\n");
}

int bird_conf_render(const struct bird_conf_input *in, char **ret, char *err, size_t errlen)
{
	struct kube_buf b = { 0 };
	bool any_bfd = false;
	char *text;
	int r;

	if (!in || !ret)
		return fail(err, errlen, "no input");
	if (!is_v4_nonzero(&in->router_id))
		return fail(err, errlen, "router id: a non-zero IPv4 address is required");
	if ((in->n_peers && !in->peers) || (in->n_policies && !in->policies))
		return fail(err, errlen, "peer or policy list missing");
	for (size_t i = 0; i < in->n_policies; i++)
		if ((r = check_policy(in, i, err, errlen)) < 0)
			return r;
	for (size_t j = 0; j < in->n_peers; j++) {
		if ((r = check_peer(&in->peers[j], j, err, errlen)) < 0)
			return r;
		any_bfd |= in->peers[j].bfd != NULL;
	}

	kube_buf_puts(&b, "# BIRD configuration of ironlb-speaker on node ");
	put_sanitized(&b, in->node_name);
	kube_buf_puts(&b, ".\n# Generated: every change is overwritten.\n\nrouter id ");
	put_addr(&b, &in->router_id);
	kube_buf_puts(&b, ";\n\n");
	/* Interfaces and their addresses: direct BGP sessions and next hops of
	 * the other family need them. */
	kube_buf_puts(&b, "protocol device ilb_device {\n}\n");
	if (any_bfd)
		kube_buf_puts(&b, "\n# Sessions and their intervals come from the bgp protocols.\n"
				  "protocol bfd ilb_bfd {\n}\n");
	for (size_t i = 0; i < in->n_policies; i++)
		render_policy(&b, in, i);
	for (size_t j = 0; j < in->n_peers; j++)
		render_peer(&b, in, j);

	text = kube_buf_steal(&b);
	if (!text) {
		kube_buf_free(&b);
		return -ENOMEM;
	}
	*ret = text;
	return 0;
}

/* mkdir -p of dir (mode 0750 for what it creates). 0 or -errno. */
static int mkdir_parents(const char *dir)
{
	char *p = strdup(dir), *s;
	int r = 0;

	if (!p)
		return -ENOMEM;
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0750) == -1 && errno != EEXIST) {
			r = -errno;
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return r;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int bird_conf_write(const char *path, const char *text)
{
	const char *slash;
	char *dir = NULL, *tmp = NULL;
	int fd = -1, dfd = -1, r;

	if (!path || !*path || !text || path[strlen(path) - 1] == '/')
		return -EINVAL;
	slash = strrchr(path, '/');
	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir || asprintf(&tmp, "%s/.%s.XXXXXX", dir, slash ? slash + 1 : path) == -1) {
		tmp = NULL;
		r = -ENOMEM;
		goto out;
	}
	if ((r = mkdir_parents(dir)) < 0)
		goto out;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd == -1) {
		r = -errno;
		goto out;
	}
	if (fchmod(fd, 0640) == -1) {
		r = -errno;
		goto unlink;
	}
	if ((r = write_all(fd, text, strlen(text))) < 0)
		goto unlink;
	if (fsync(fd) == -1) {
		r = -errno;
		goto unlink;
	}
	if (close(fd) == -1) {
		fd = -1;
		r = -errno;
		goto unlink;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		r = -errno;
		goto unlink;
	}
	/* The rename itself must survive a crash too. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1 || fsync(dfd) == -1)
		r = -errno;
	else
		r = 0;
	goto out;
unlink:
	unlink(tmp);
out:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	free(tmp);
	free(dir);
	return r;
}
