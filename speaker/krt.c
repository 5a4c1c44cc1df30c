/* ironlb's routes in the kernel's routing tables (krt.h), over raw
 * rtnetlink.
 *
 * Raw rtnetlink rather than libnl-route: libnl's route cache can only dump
 * every route of every table and filter afterwards, while the kernel filters
 * a strict-checked dump by protocol itself (a node carrying a full BGP table
 * in another table costs nothing here); libnl folds kernel errors into its
 * own codes where callers here need the errno; and a sync is sent as batches
 * of requests in one sendmsg each, answered by one ack per request, which is
 * what makes 10,000 changes cheap. The messages are small and fixed.
 *
 * Every route is written with metric KRT_METRIC. The kernel's NLM_F_REPLACE
 * replaces the first route of the same prefix and metric, whatever its
 * protocol: with metric 0 (the IPv4 default) an announced address that is
 * also configured on an interface (kube-proxy in IPVS mode puts every
 * load-balancer address on kube-ipvs0) would have its kernel-made local
 * route replaced by ours, and our withdrawal would then take the address's
 * local route away. With a metric of our own both routes coexist. */
#include "krt.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

#define KRT_METRIC 74u
/* Requests per sendmsg: their acks (one skb each) must fit the receive
 * buffer, or the kernel drops them. */
#define BATCH_MAX 64
#define REQ_MAX 128 /* bytes of one request, attributes included */
#define RECV_BUF (64 * 1024)
#define DUMP_RETRIES 5

struct krt {
	int fd;
	uint32_t seq;
	int lo_ifindex;
	/* The batch being built: requests back to back, and per request
	 * whether it is a deletion (absent is success) and its outcome. */
	uint8_t batch[BATCH_MAX * REQ_MAX];
	size_t batch_len;
	unsigned batch_n;
	uint32_t batch_seq0;
	bool batch_del[BATCH_MAX];
	uint8_t *rbuf; /* RECV_BUF bytes */
};

/* A dumped route with what a deletion of exactly it needs. */
struct krt_entry {
	struct krt_route r;
	uint32_t metric;
};

struct krt_result {
	size_t ok_add, ok_del, failed;
	int first_err;
};

int krt_route_cmp(const struct krt_route *a, const struct krt_route *b)
{
	unsigned n;
	int c;

	if (a->table != b->table)
		return a->table < b->table ? -1 : 1;
	if (a->dst.addr.family != b->dst.addr.family)
		return a->dst.addr.family < b->dst.addr.family ? -1 : 1;
	n = ip_bits(a->dst.addr.family) / 8;
	c = memcmp(a->dst.addr.bytes, b->dst.addr.bytes, n ? n : sizeof(a->dst.addr.bytes));
	if (c)
		return c < 0 ? -1 : 1;
	if (a->dst.len != b->dst.len)
		return a->dst.len < b->dst.len ? -1 : 1;
	return 0;
}

static int cmp_route_q(const void *a, const void *b)
{
	return krt_route_cmp(a, b);
}

/* Same key twice (a route of ours with another metric, added by hand or by
 * an older version): the one with our metric first, so a sync keeps it. */
static int cmp_entry_q(const void *a, const void *b)
{
	const struct krt_entry *x = a, *y = b;
	int c = krt_route_cmp(&x->r, &y->r);

	if (c)
		return c;
	return (x->metric != KRT_METRIC) - (y->metric != KRT_METRIC);
}

/* A route this module may write: a known family and type, a table other
 * than 0 (which the kernel reads as "main"), and no host bits. */
static int route_check(const struct krt_route *r)
{
	unsigned bits = ip_bits(r->dst.addr.family);
	struct ip_prefix p;

	if (!bits || r->dst.len > bits || r->table == 0)
		return -EINVAL;
	if (r->type != RTN_BLACKHOLE && r->type != RTN_LOCAL)
		return -EINVAL;
	if (prefix_from_addr(&r->dst.addr, r->dst.len, &p) < 0 ||
	    memcmp(p.addr.bytes, r->dst.addr.bytes, bits / 8) != 0)
		return -EINVAL;
	return 0;
}

int krt_open(struct krt **ret)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int one = 1, rcvbuf = 1024 * 1024;
	struct krt *k;
	int err;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->rbuf = malloc(RECV_BUF);
	if (!k->rbuf) {
		free(k);
		return -ENOMEM;
	}
	k->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (k->fd == -1)
		goto fail;
	if (bind(k->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		goto fail;
	/* Acks without the request echoed; a larger buffer for dumps and acks.
	 * Strict checking lets the kernel filter dumps; older kernels lack it
	 * and get filtered here only, so its failure is not an error. */
	(void)setsockopt(k->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	(void)setsockopt(k->fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	(void)setsockopt(k->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	k->lo_ifindex = (int)if_nametoindex("lo");
	if (k->lo_ifindex == 0)
		k->lo_ifindex = 1;	  /* LOOPBACK_IFINDEX in every namespace */
	k->seq = (uint32_t)getpid() << 8; /* any start; replies are matched on it */
	*ret = k;
	return 0;
fail:
	err = -errno;
	if (k->fd != -1)
		close(k->fd);
	free(k->rbuf);
	free(k);
	return err;
}

void krt_close(struct krt *k)
{
	if (!k)
		return;
	close(k->fd);
	free(k->rbuf);
	free(k);
}

static void put_attr(struct nlmsghdr *h, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((uint8_t *)h + NLMSG_ALIGN(h->nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Reads from the socket into k->rbuf; the number of bytes or -errno. Only
 * the kernel (port 0) is listened to. */
static ssize_t recv_kernel(struct krt *k, int *ret_trunc)
{
	struct sockaddr_nl from;
	struct iovec iov = { .iov_base = k->rbuf, .iov_len = RECV_BUF };
	struct msghdr msg = {
		.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1
	};
	ssize_t n;

	for (;;) {
		n = recvmsg(k->fd, &msg, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (msg.msg_namelen != sizeof(from) || from.nl_pid != 0)
			continue;
		*ret_trunc = (msg.msg_flags & MSG_TRUNC) != 0;
		return n;
	}
}

static int send_all(struct krt *k, const void *buf, size_t len)
{
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	ssize_t n;

	do
		n = sendto(k->fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to));
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* Sends the batch and collects one ack per request into res. Returns 0, or
 * -errno when the exchange itself failed (then the requests not acked yet
 * count as failed: their outcome is unknown). */
static int batch_flush(struct krt *k, struct krt_result *res)
{
	unsigned n = k->batch_n, acked = 0;
	bool seen[BATCH_MAX] = { false };
	int err, trunc;
	size_t len = k->batch_len;

	if (!n)
		return 0;
	k->batch_n = 0;
	k->batch_len = 0;
	err = send_all(k, k->batch, len);
	while (!err && acked < n) {
		ssize_t got = recv_kernel(k, &trunc);
		struct nlmsghdr *h;
		size_t left;

		if (got < 0) {
			err = (int)got;
			break;
		}
		if (trunc) {
			err = -EMSGSIZE;
			break;
		}
		left = (size_t)got;
		for (h = (struct nlmsghdr *)k->rbuf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			const struct nlmsgerr *e = NLMSG_DATA(h);
			uint32_t i = h->nlmsg_seq - k->batch_seq0;
			int r;

			/* Replies to earlier, abandoned exchanges are skipped. */
			if (h->nlmsg_type != NLMSG_ERROR || i >= n || seen[i])
				continue;
			seen[i] = true;
			acked++;
			/* A truncated ack still answers its request. */
			r = h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)) ? -EIO : e->error;
			if (r == -ESRCH && k->batch_del[i])
				r = 0; /* already absent */
			if (r > 0 || r < -4095)
				r = -EIO;
			if (r == 0) {
				if (k->batch_del[i])
					res->ok_del++;
				else
					res->ok_add++;
			} else {
				res->failed++;
				if (!res->first_err)
					res->first_err = r;
			}
		}
	}
	if (err) {
		res->failed += n - acked;
		if (!res->first_err)
			res->first_err = err;
	}
	return err;
}

/* Appends one RTM_NEWROUTE (replace) or RTM_DELROUTE for r with metric to
 * the batch, sending the batch first when full. A deletion matches on
 * protocol, table, prefix and metric, and on IPv4 on the type too; any scope
 * and, with metric 0 (IPv4 only), any metric. */
static void batch_route(struct krt *k, bool del, const struct krt_route *r, uint32_t metric,
			struct krt_result *res)
{
	struct nlmsghdr *h;
	struct rtmsg *rtm;
	unsigned bytes = ip_bits(r->dst.addr.family) / 8;

	if (k->batch_n == BATCH_MAX)
		(void)batch_flush(k, res);
	if (k->batch_n == 0)
		k->batch_seq0 = k->seq + 1;
	h = (struct nlmsghdr *)(k->batch + k->batch_len);
	memset(h, 0, REQ_MAX);
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*rtm));
	h->nlmsg_type = del ? RTM_DELROUTE : RTM_NEWROUTE;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (!del)
		h->nlmsg_flags |= NLM_F_CREATE | NLM_F_REPLACE;
	h->nlmsg_seq = ++k->seq;
	rtm = NLMSG_DATA(h);
	rtm->rtm_family = r->dst.addr.family;
	rtm->rtm_dst_len = r->dst.len;
	rtm->rtm_table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = KRT_PROTO;
	rtm->rtm_type = r->type;
	if (del)
		rtm->rtm_scope = RT_SCOPE_NOWHERE; /* any scope */
	else
		rtm->rtm_scope = r->type == RTN_LOCAL ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
	if (r->dst.len > 0 || r->dst.addr.family == AF_INET6)
		put_attr(h, RTA_DST, r->dst.addr.bytes, bytes);
	put_attr(h, RTA_TABLE, &r->table, sizeof(r->table));
	if (metric)
		put_attr(h, RTA_PRIORITY, &metric, sizeof(metric));
	if (!del && r->type == RTN_LOCAL)
		put_attr(h, RTA_OIF, &k->lo_ifindex, sizeof(k->lo_ifindex));
	k->batch_del[k->batch_n++] = del;
	k->batch_len += NLMSG_ALIGN(h->nlmsg_len);
}

static int one_route(struct krt *k, bool del, const struct krt_route *r)
{
	struct krt_result res = { 0 };
	int err = route_check(r);

	if (err)
		return err;
	batch_route(k, del, r, KRT_METRIC, &res);
	(void)batch_flush(k, &res);
	return res.first_err;
}

int krt_add(struct krt *k, const struct krt_route *r)
{
	return one_route(k, false, r);
}

int krt_del(struct krt *k, const struct krt_route *r)
{
	return one_route(k, true, r);
}

/* Reads one route message; true if it is one of ours inside the range,
 * with *e filled. Anything malformed is skipped, never trusted. */
static bool parse_route(const struct nlmsghdr *h, int family, uint32_t table_min,
			uint32_t table_max, struct krt_entry *e)
{
	const struct rtmsg *rtm = NLMSG_DATA(h);
	const struct rtattr *a;
	const void *dst = NULL;
	uint32_t table, metric = 0;
	unsigned bytes = ip_bits(family) / 8;
	struct ip_addr addr;
	int left;

	if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return false;
	if (rtm->rtm_family != family || rtm->rtm_protocol != KRT_PROTO ||
	    (rtm->rtm_flags & RTM_F_CLONED) || rtm->rtm_dst_len > bytes * 8)
		return false;
	table = rtm->rtm_table;
	left = (int)RTM_PAYLOAD(h);
	for (a = RTM_RTA(rtm); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
		size_t alen = RTA_PAYLOAD(a);

		if (a->rta_type == RTA_TABLE && alen == sizeof(uint32_t))
			memcpy(&table, RTA_DATA(a), sizeof(table));
		else if (a->rta_type == RTA_PRIORITY && alen == sizeof(uint32_t))
			memcpy(&metric, RTA_DATA(a), sizeof(metric));
		else if (a->rta_type == RTA_DST) {
			if (alen != bytes)
				return false;
			dst = RTA_DATA(a);
		}
	}
	if (table < table_min || table > table_max)
		return false;
	if (dst) {
		if (ip_from_bytes(family, dst, bytes, &addr) < 0)
			return false;
	} else {
		if (rtm->rtm_dst_len != 0)
			return false;
		memset(&addr, 0, sizeof(addr));
		addr.family = (uint8_t)family;
	}
	memset(e, 0, sizeof(*e));
	if (prefix_from_addr(&addr, rtm->rtm_dst_len, &e->r.dst) < 0)
		return false;
	e->r.table = table;
	e->r.type = rtm->rtm_type;
	e->metric = metric;
	return true;
}

struct entries {
	struct krt_entry *v;
	size_t n, cap;
};

static int entries_push(struct entries *es, const struct krt_entry *e)
{
	if (es->n == es->cap) {
		size_t cap = es->cap ? es->cap * 2 : 64;
		struct krt_entry *v;

		if (cap > SIZE_MAX / sizeof(*v))
			return -ENOMEM;
		v = realloc(es->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		es->v = v;
		es->cap = cap;
	}
	es->v[es->n++] = *e;
	return 0;
}

/* One dump of family into es (appended). -EAGAIN if the kernel reports the
 * tables changed under the dump (NLM_F_DUMP_INTR). On failure es is rolled
 * back; the dump is still read to its end, since the kernel refuses a new
 * dump on a socket with one running. */
static int dump_family(struct krt *k, int family, uint32_t table_min, uint32_t table_max,
		       struct entries *es)
{
	struct {
		struct nlmsghdr h;
		struct rtmsg rtm;
		uint8_t attrs[16];
	} req;
	size_t n0 = es->n;
	bool intr = false, done = false;
	uint32_t seq;
	int err = 0, trunc;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.rtm));
	req.h.nlmsg_type = RTM_GETROUTE;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = seq = ++k->seq;
	req.rtm.rtm_family = (uint8_t)family;
	/* Filters the kernel applies under strict checking. */
	req.rtm.rtm_protocol = KRT_PROTO;
	if (table_min == table_max)
		put_attr(&req.h, RTA_TABLE, &table_min, sizeof(table_min));
	err = send_all(k, &req, req.h.nlmsg_len);
	if (err)
		return err;
	while (!done) {
		ssize_t got = recv_kernel(k, &trunc);
		struct nlmsghdr *h;
		size_t left;

		if (got < 0 || trunc) {
			err = got < 0 ? (int)got : -EMSGSIZE;
			break;
		}
		left = (size_t)got;
		for (h = (struct nlmsghdr *)k->rbuf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			struct krt_entry e;

			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			if (h->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *ne = NLMSG_DATA(h);
				int r = -EIO;

				if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(*ne)) && ne->error < 0 &&
				    ne->error >= -4095)
					r = ne->error;
				/* A table filter naming a table that does not
				 * exist (yet): nothing of ours in it. */
				if (r == -ENOENT && table_min == table_max)
					r = 0;
				if (!err)
					err = r;
				done = true;
				break;
			}
			if (!err && parse_route(h, family, table_min, table_max, &e))
				err = entries_push(es, &e);
		}
	}
	if (!err && intr)
		err = -EAGAIN;
	if (err)
		es->n = n0;
	return err;
}

static int dump_entries(struct krt *k, uint32_t table_min, uint32_t table_max, struct entries *es)
{
	int err = -EAGAIN;

	if (table_min > table_max)
		return -EINVAL;
	for (int i = 0; i < DUMP_RETRIES && err == -EAGAIN; i++) {
		es->n = 0;
		err = dump_family(k, AF_INET, table_min, table_max, es);
		if (!err)
			err = dump_family(k, AF_INET6, table_min, table_max, es);
	}
	if (err)
		return err;
	if (es->n > 1)
		qsort(es->v, es->n, sizeof(*es->v), cmp_entry_q);
	return 0;
}

int krt_dump(struct krt *k, uint32_t table_min, uint32_t table_max, struct krt_route **ret,
	     size_t *ret_n)
{
	struct entries es = { 0 };
	struct krt_route *out;
	int err;

	err = dump_entries(k, table_min, table_max, &es);
	if (err) {
		free(es.v);
		return err;
	}
	out = malloc((es.n ? es.n : 1) * sizeof(*out));
	if (!out) {
		free(es.v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < es.n; i++)
		out[i] = es.v[i].r;
	free(es.v);
	*ret = out;
	*ret_n = es.n;
	return 0;
}

int krt_sync(struct krt *k, uint32_t table_min, uint32_t table_max, const struct krt_route *want,
	     size_t n, struct krt_sync_stats *stats)
{
	struct krt_result res = { 0 };
	struct entries have = { 0 };
	struct krt_route *w = NULL;
	size_t i = 0, j = 0;
	int err;

	if (table_min > table_max)
		return -EINVAL;
	for (size_t x = 0; x < n; x++) {
		if (route_check(&want[x]) < 0 || want[x].table < table_min ||
		    want[x].table > table_max)
			return -EINVAL;
	}
	if (n) {
		w = malloc(n * sizeof(*w));
		if (!w)
			return -ENOMEM;
		memcpy(w, want, n * sizeof(*w));
		qsort(w, n, sizeof(*w), cmp_route_q);
	}
	err = dump_entries(k, table_min, table_max, &have);
	if (err)
		goto out;
	/* Both sorted: one merge. A route present with another type or
	 * another metric is replaced by ours, then the old one removed. */
	while (i < have.n || j < n) {
		const struct krt_entry *h = i < have.n ? &have.v[i] : NULL;
		int c = !h ? 1 : j == n ? -1 : krt_route_cmp(&h->r, &w[j]);

		if (c < 0) {
			batch_route(k, true, &h->r, h->metric, &res);
			i++;
			continue;
		}
		if (c == 0) {
			if (h->r.type != w[j].type || h->metric != KRT_METRIC)
				batch_route(k, false, &w[j], KRT_METRIC, &res);
			if (h->metric != KRT_METRIC)
				batch_route(k, true, &h->r, h->metric, &res);
			i++;
		} else {
			batch_route(k, false, &w[j], KRT_METRIC, &res);
		}
		/* Duplicates in want: the first one counts. */
		while (++j < n && krt_route_cmp(&w[j], &w[j - 1]) == 0)
			;
	}
	(void)batch_flush(k, &res);
	err = res.first_err;
out:
	if (stats) {
		stats->added = res.ok_add;
		stats->removed = res.ok_del;
		stats->failed = res.failed;
	}
	free(w);
	free(have.v);
	return err;
}
