/* libnftables, loaded when first used.
 *
 * Only the datapath (--datapath=nodeport) talks to nftables, and libnftables
 * with what it loads (libnftnl, libxtables, libgmp) is some 1.4 MiB of
 * resident pages in a process that never calls it. So the speaker is not
 * linked against it: this file defines the few libnftables functions the
 * datapath uses, with libnftables' own prototypes, and each one loads the
 * library (dlopen) on the first call and forwards to it. When the library
 * cannot be loaded, nft_ctx_new() returns NULL (the datapath reports that it
 * cannot create an nftables context) and the reason is logged.
 *
 * Once loaded it stays: libnftables points libgmp's allocation functions
 * at its own (mp_set_memory_functions), and libgmp, which GnuTLS uses too,
 * stays loaded; unloading libnftables would leave libgmp calling into
 * unmapped code.
 */
#include <dlfcn.h>
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ironlb/log.h"
#include "nft_dl.h"

#define NFT_SONAME "libnftables.so.1"

static struct {
	void *handle;
	struct nft_ctx *(*ctx_new)(uint32_t);
	void (*ctx_free)(struct nft_ctx *);
	void (*set_dry_run)(struct nft_ctx *, bool);
	void (*output_set_flags)(struct nft_ctx *, unsigned int);
	int (*buffer_output)(struct nft_ctx *);
	const char *(*get_output_buffer)(struct nft_ctx *);
	int (*buffer_error)(struct nft_ctx *);
	const char *(*get_error_buffer)(struct nft_ctx *);
	int (*run_cmd_from_buffer)(struct nft_ctx *, const char *);
} nft;

static bool nft_load(void)
{
	const char *missing = NULL;
	void *h;

	if (nft.handle)
		return true;
	h = dlopen(NFT_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!h) {
		const char *err = dlerror();

		log_error("datapath", "cannot load libnftables", LF_STR("library", NFT_SONAME),
			  LF_STR("error", err ? err : "unknown"));
		return false;
	}
#define SYM(field, name)                                                                           \
	do {                                                                                       \
		*(void **)&nft.field = dlsym(h, name);                                             \
		if (!nft.field && !missing)                                                        \
			missing = name;                                                            \
	} while (0)
	SYM(ctx_new, "nft_ctx_new");
	SYM(ctx_free, "nft_ctx_free");
	SYM(set_dry_run, "nft_ctx_set_dry_run");
	SYM(output_set_flags, "nft_ctx_output_set_flags");
	SYM(buffer_output, "nft_ctx_buffer_output");
	SYM(get_output_buffer, "nft_ctx_get_output_buffer");
	SYM(buffer_error, "nft_ctx_buffer_error");
	SYM(get_error_buffer, "nft_ctx_get_error_buffer");
	SYM(run_cmd_from_buffer, "nft_run_cmd_from_buffer");
#undef SYM
	if (missing) {
		log_error("datapath", "libnftables lacks a function", LF_STR("library", NFT_SONAME),
			  LF_STR("function", missing));
		dlclose(h);
		return false;
	}
	nft.handle = h;
	return true;
}

/* Every function below is reached only with a context from nft_ctx_new(),
 * so the library is loaded there. */

struct nft_ctx *nft_ctx_new(uint32_t flags)
{
	return nft_load() ? nft.ctx_new(flags) : NULL;
}

void nft_ctx_free(struct nft_ctx *ctx)
{
	if (ctx && nft.handle)
		nft.ctx_free(ctx);
}

void nft_ctx_set_dry_run(struct nft_ctx *ctx, bool dry)
{
	nft.set_dry_run(ctx, dry);
}

void nft_ctx_output_set_flags(struct nft_ctx *ctx, unsigned int flags)
{
	nft.output_set_flags(ctx, flags);
}

int nft_ctx_buffer_output(struct nft_ctx *ctx)
{
	return nft.buffer_output(ctx);
}

const char *nft_ctx_get_output_buffer(struct nft_ctx *ctx)
{
	return nft.get_output_buffer(ctx);
}

int nft_ctx_buffer_error(struct nft_ctx *ctx)
{
	return nft.buffer_error(ctx);
}

const char *nft_ctx_get_error_buffer(struct nft_ctx *ctx)
{
	return nft.get_error_buffer(ctx);
}

int nft_run_cmd_from_buffer(struct nft_ctx *ctx, const char *buf)
{
	return nft.run_cmd_from_buffer(ctx, buf);
}

/* ---- a table's existence, without libnftables ---- */

int nft_table_exists(uint8_t family, const char *name)
{
	struct {
		struct nlmsghdr nh;
		struct nfgenmsg g;
		struct nlattr a;
		char name[NFT_TABLE_MAXNAMELEN];
	} req;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 2 };
	size_t len = strlen(name) + 1;
	union {
		struct nlmsghdr nh;
		char buf[8192];
	} ans;
	int fd, r = -EIO;

	if (len > sizeof(req.name))
		return -EINVAL;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0)
		return -errno;
	memset(&req, 0, sizeof(req));
	req.a.nla_type = NFTA_TABLE_NAME;
	req.a.nla_len = (uint16_t)(NLA_HDRLEN + len);
	memcpy(req.name, name, len);
	req.nh.nlmsg_len = (uint32_t)NLMSG_LENGTH(sizeof(req.g) + NLA_ALIGN(req.a.nla_len));
	req.nh.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.nh.nlmsg_seq = 1;
	req.g.nfgen_family = family;
	req.g.version = NFNETLINK_V0;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		r = -errno;
		goto out;
	}
	/* The table (NEWTABLE) then an acknowledgement, or an error. */
	for (int found = 0;;) {
		ssize_t n = recv(fd, &ans, sizeof(ans), 0);

		if (n < 0) {
			r = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		for (struct nlmsghdr *h = &ans.nh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != 1)
				continue;
			if (h->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE)) {
				found = 1;
			} else if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					goto out;
				r = e->error == 0 ? found : e->error == -ENOENT ? 0 : e->error;
				goto out;
			} else if (h->nlmsg_type == NLMSG_DONE) {
				r = found;
				goto out;
			}
		}
	}
out:
	close(fd);
	return r;
}
