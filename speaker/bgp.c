/* BGP actuator: BIRD configuration through check-then-configure, kernel
 * tables of advertised prefixes, BIRD session states. See bgp.h. */
#include "bgp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bird_ctl.h"
#include "bird_reply.h"
#include "ironlb/log.h"
#include "ironlb/loop.h"
#include "ironlb/metrics.h"

#define PEER_PROTO_PREFIX "ilb_peer_"

/* A peer of a configuration, and what BIRD last said about its session. */
struct session {
	char *name;
	char address[IP_STRLEN];
	bool seen; /* found in the last `show protocols` */
	bool established;
	char state[16];
	char since[48];
	char info[256];
};

struct peer_list {
	struct session *v;
	size_t n;
};

enum step { STEP_IDLE, STEP_CHECK, STEP_CONFIGURE };

struct bgp {
	struct loop *loop;
	char *conf_path, *tmp_path, *sock_path;
	char conf_quoted[300], tmp_quoted[300];
	uint32_t table_base, table_count;
	uint64_t poll_us;
	struct krt *krt;
	struct bird_ctl *ctl;
	struct loop_timer *poll_timer;
	bool bird_up, polling;

	char *want_text;	 /* the last rendered input */
	struct peer_list want;	 /* its peers */
	char *file_text;	 /* what conf_path holds (written by us) */
	char *failed_text;	 /* a text BIRD rejected: not retried */
	char *bird_text;	 /* what BIRD accepted last */
	struct peer_list active; /* its peers, with session states */
	enum step step;
	char *inflight_text; /* being checked / configured */
	struct peer_list inflight;
	bool need_apply; /* BIRD (re)connected: tell it again */

	enum bgp_apply_state apply;
	char apply_msg[512];
	uint64_t apply_wall_us;
	uint64_t n_ok, n_failed;

	struct krt_route *routes; /* what we put in the kernel, sorted */
	size_t n_routes;
	bool routes_synced;

	struct metric *m_bird_up, *m_session_up, *m_prefixes, *m_reconf, *m_changes;
};

static void kick(struct bgp *b);

const char *bgp_apply_state_str(enum bgp_apply_state s)
{
	switch (s) {
	case BGP_APPLY_NONE:
		return "none";
	case BGP_APPLY_PENDING:
		return "pending";
	case BGP_APPLY_OK:
		return "ok";
	case BGP_APPLY_FAILED:
		return "failed";
	}
	return "?";
}

/* ---- peer lists ---- */

static void peers_clear(struct peer_list *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].name);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static int peers_from_input(const struct bird_conf_input *in, struct peer_list *ret)
{
	struct peer_list p = { 0 };

	if (in->n_peers) {
		p.v = calloc(in->n_peers, sizeof(*p.v));
		if (!p.v)
			return -ENOMEM;
	}
	for (size_t i = 0; i < in->n_peers; i++) {
		const struct bgp_peer *bp = in->peers[i].peer;

		p.n++;
		p.v[i].name = strdup(bp && bp->name ? bp->name : "?");
		if (!p.v[i].name) {
			peers_clear(&p);
			return -ENOMEM;
		}
		if (bp)
			ip_format(&bp->peer_addr, p.v[i].address, sizeof(p.v[i].address));
		snprintf(p.v[i].state, sizeof(p.v[i].state), "unknown");
	}
	*ret = p;
	return 0;
}

static void peers_move(struct peer_list *dst, struct peer_list *src)
{
	peers_clear(dst);
	*dst = *src;
	src->v = NULL;
	src->n = 0;
}

static int peers_copy(const struct peer_list *src, struct peer_list *ret)
{
	struct peer_list p = { 0 };

	if (src->n) {
		p.v = calloc(src->n, sizeof(*p.v));
		if (!p.v)
			return -ENOMEM;
	}
	for (size_t i = 0; i < src->n; i++) {
		p.v[i] = src->v[i];
		p.n++;
		p.v[i].name = strdup(src->v[i].name);
		if (!p.v[i].name) {
			peers_clear(&p);
			return -ENOMEM;
		}
	}
	*ret = p;
	return 0;
}

/* ---- metrics ---- */

static void update_session_metrics(struct bgp *b)
{
	metric_clear(b->m_session_up);
	for (size_t i = 0; i < b->active.n; i++)
		metric_set(b->m_session_up, b->active.v[i].established ? 1 : 0,
			   b->active.v[i].name);
}

static void set_result(struct bgp *b, enum bgp_apply_state st, const char *msg)
{
	b->apply = st;
	snprintf(b->apply_msg, sizeof(b->apply_msg), "%s", msg ? msg : "");
	b->apply_wall_us = loop_wall_us();
	if (st == BGP_APPLY_OK) {
		b->n_ok++;
		metric_add(b->m_reconf, 1, "ok");
	} else if (st == BGP_APPLY_FAILED) {
		b->n_failed++;
		metric_add(b->m_reconf, 1, "failed");
	}
}

static bool same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static void replace_str(char **dst, char *src)
{
	free(*dst);
	*dst = src;
}

/* ---- configuration ---- */

static void on_configure(int err, const struct bird_reply *r, void *userdata)
{
	struct bgp *b = userdata;
	struct bird_configure_result res;

	b->step = STEP_IDLE;
	if (err) {
		/* BIRD went away mid-command: on_state(true) applies again. */
		b->need_apply = true;
		peers_clear(&b->inflight);
		replace_str(&b->inflight_text, NULL);
		return;
	}
	bird_parse_configure(r, &res);
	if (res.status == BIRD_CONFIGURE_OK) {
		log_info("bgp", "BIRD reconfigured", LF_STR("path", b->conf_path),
			 LF_STR("reply", res.message), LF_INT("peers", b->inflight.n));
		replace_str(&b->bird_text, b->inflight_text);
		b->inflight_text = NULL;
		peers_move(&b->active, &b->inflight);
		update_session_metrics(b);
		set_result(b, BGP_APPLY_OK, res.message);
		/* Learn the new sessions' states soon. */
		if (b->bird_up)
			loop_timer_arm(b->poll_timer, 0);
	} else {
		log_error("bgp", "BIRD refused to load the configuration it had checked",
			  LF_STR("path", b->conf_path), LF_INT("code", res.code),
			  LF_STR("reply", res.message));
		replace_str(&b->failed_text, b->inflight_text);
		b->inflight_text = NULL;
		peers_clear(&b->inflight);
		set_result(b, BGP_APPLY_FAILED, res.message);
	}
	kick(b);
}

static void on_check(int err, const struct bird_reply *r, void *userdata)
{
	struct bgp *b = userdata;
	struct bird_configure_result res;
	int e;

	b->step = STEP_IDLE;
	if (err) {
		b->need_apply = true;
		peers_clear(&b->inflight);
		replace_str(&b->inflight_text, NULL);
		unlink(b->tmp_path);
		return;
	}
	bird_parse_configure(r, &res);
	if (res.status != BIRD_CONFIGURE_OK) {
		/* The old file stays; BIRD keeps running the old configuration. */
		unlink(b->tmp_path);
		log_error("bgp", "BIRD rejected the generated configuration; keeping the old one",
			  LF_STR("path", b->conf_path), LF_INT("line", res.line),
			  LF_INT("column", res.column), LF_INT("code", res.code),
			  LF_STR("reply", res.message));
		replace_str(&b->failed_text, b->inflight_text);
		b->inflight_text = NULL;
		peers_clear(&b->inflight);
		set_result(b, BGP_APPLY_FAILED, res.message);
		kick(b);
		return;
	}
	if (rename(b->tmp_path, b->conf_path) == -1) {
		e = -errno;
		log_error("bgp", "cannot move the checked BIRD configuration in place",
			  LF_STR("from", b->tmp_path), LF_STR("to", b->conf_path), LF_ERR(e));
		unlink(b->tmp_path);
		replace_str(&b->failed_text, b->inflight_text);
		b->inflight_text = NULL;
		peers_clear(&b->inflight);
		set_result(b, BGP_APPLY_FAILED, "cannot rename the checked file into place");
		kick(b);
		return;
	}
	replace_str(&b->file_text, strdup(b->inflight_text));
	{
		char cmd[BIRD_CTL_MAX_COMMAND];

		snprintf(cmd, sizeof(cmd), "configure %s", b->conf_quoted);
		e = bird_ctl_send(b->ctl, cmd, on_configure, b);
	}
	if (e < 0) {
		b->need_apply = true;
		peers_clear(&b->inflight);
		replace_str(&b->inflight_text, NULL);
		return;
	}
	b->step = STEP_CONFIGURE;
}

/* Writes want_text where BIRD reads it at start-up, if it is not there. */
static int write_in_place(struct bgp *b)
{
	int r;

	if (same(b->file_text, b->want_text))
		return 0;
	r = bird_conf_write(b->conf_path, b->want_text);
	if (r < 0) {
		log_error("bgp", "cannot write the BIRD configuration",
			  LF_STR("path", b->conf_path), LF_ERR(r));
		return r;
	}
	replace_str(&b->file_text, strdup(b->want_text));
	return 0;
}

/* Moves BIRD towards want_text: the one place that starts a check. */
static void kick(struct bgp *b)
{
	char cmd[BIRD_CTL_MAX_COMMAND];
	int r;

	if (!b->want_text || b->step != STEP_IDLE)
		return; /* a finishing command calls kick() again */
	if (same(b->want_text, b->failed_text))
		return; /* not retried until the input changes */
	if (!b->bird_up) {
		if (write_in_place(b) == 0 && b->apply != BGP_APPLY_FAILED)
			b->apply = BGP_APPLY_PENDING;
		b->need_apply = true;
		return;
	}
	if (!b->need_apply && same(b->want_text, b->bird_text))
		return;
	r = bird_conf_write(b->tmp_path, b->want_text);
	if (r < 0) {
		log_error("bgp", "cannot write the BIRD configuration to check",
			  LF_STR("path", b->tmp_path), LF_ERR(r));
		return;
	}
	replace_str(&b->inflight_text, strdup(b->want_text));
	peers_clear(&b->inflight);
	if (!b->inflight_text || peers_copy(&b->want, &b->inflight) < 0) {
		replace_str(&b->inflight_text, NULL);
		return;
	}
	snprintf(cmd, sizeof(cmd), "configure check %s", b->tmp_quoted);
	r = bird_ctl_send(b->ctl, cmd, on_check, b);
	if (r < 0) {
		log_warn("bgp", "cannot send a command to BIRD", LF_STR("command", cmd), LF_ERR(r));
		replace_str(&b->inflight_text, NULL);
		peers_clear(&b->inflight);
		return;
	}
	b->need_apply = false;
	b->step = STEP_CHECK;
	b->apply = BGP_APPLY_PENDING;
}

int bgp_set_config(struct bgp *b, const struct bird_conf_input *in)
{
	char err[256] = "", *text = NULL;
	struct peer_list peers = { 0 };
	int r = bird_conf_render(in, &text, err, sizeof(err));

	if (r < 0) {
		/* Reported once per distinct reason: the caller retries on
		 * every pass with the same input. */
		if (r == -EINVAL && b->apply == BGP_APPLY_FAILED && strcmp(b->apply_msg, err) == 0)
			return r;
		log_error("bgp", "cannot render the BIRD configuration", LF_STR("why", err),
			  LF_ERR(r));
		if (r == -EINVAL)
			set_result(b, BGP_APPLY_FAILED, err);
		return r;
	}
	if (same(text, b->want_text)) {
		free(text);
		return 0;
	}
	r = peers_from_input(in, &peers);
	if (r < 0) {
		free(text);
		return r;
	}
	replace_str(&b->want_text, text);
	peers_move(&b->want, &peers);
	/* A new input gets its chance, even one that failed before. */
	replace_str(&b->failed_text, NULL);
	if (!b->bird_up) {
		r = write_in_place(b);
		b->need_apply = true;
		if (r < 0)
			return r;
		b->apply = BGP_APPLY_PENDING;
		return 0;
	}
	kick(b);
	return 0;
}

/* ---- BIRD state ---- */

/* j if name is "ilb_peer_<j>" or "ilb_peer_<j>_<anything>", else -1. */
static long peer_index(const char *name)
{
	const char *p = name + strlen(PEER_PROTO_PREFIX);
	char *end;
	long j;

	if (strncmp(name, PEER_PROTO_PREFIX, strlen(PEER_PROTO_PREFIX)) != 0 || *p < '0' ||
	    *p > '9')
		return -1;
	j = strtol(p, &end, 10);
	if (*end != '\0' && *end != '_')
		return -1;
	return j;
}

static void on_protocols(int err, const struct bird_reply *r, void *userdata)
{
	struct bgp *b = userdata;
	struct bird_protocol *rows = NULL;
	size_t n = 0;

	b->polling = false;
	if (err)
		return;
	if (bird_parse_protocols(r, &rows, &n) < 0) {
		log_warn("bgp", "cannot read BIRD's protocol list",
			 LF_STR("reply", bird_reply_message(r)));
		return;
	}
	for (size_t i = 0; i < b->active.n; i++) {
		b->active.v[i].seen = false;
		b->active.v[i].established = false;
	}
	for (size_t k = 0; k < n; k++) {
		long j = peer_index(rows[k].name);
		struct session *s;
		bool est;

		if (j < 0 || (size_t)j >= b->active.n || strcmp(rows[k].proto, "BGP") != 0)
			continue;
		s = &b->active.v[j];
		est = strcmp(rows[k].state, "up") == 0 &&
		      strncmp(rows[k].info, "Established", 11) == 0;

		/* Several protocols for one peer: established only if all are. */
		s->established = s->seen ? s->established && est : est;
		s->seen = true;
		snprintf(s->state, sizeof(s->state), "%s", rows[k].state);
		snprintf(s->since, sizeof(s->since), "%s", rows[k].since);
		snprintf(s->info, sizeof(s->info), "%s", rows[k].info);
	}
	for (size_t i = 0; i < b->active.n; i++)
		if (!b->active.v[i].seen) {
			snprintf(b->active.v[i].state, sizeof(b->active.v[i].state), "absent");
			b->active.v[i].since[0] = b->active.v[i].info[0] = '\0';
		}
	free(rows);
	update_session_metrics(b);
}

static void on_poll(struct loop_timer *t, void *userdata)
{
	struct bgp *b = userdata;

	if (!b->bird_up)
		return;
	loop_timer_arm(t, b->poll_us);
	if (b->polling)
		return;
	if (bird_ctl_send(b->ctl, "show protocols", on_protocols, b) == 0)
		b->polling = true;
}

static void on_bird_state(bool up, void *userdata)
{
	struct bgp *b = userdata;

	b->bird_up = up;
	metric_set(b->m_bird_up, up ? 1 : 0);
	if (up) {
		log_info("bgp", "BIRD control socket up", LF_STR("socket", b->sock_path));
		/* A new BIRD (or the same one after a lost connection): tell it
		 * again, then learn the sessions. */
		b->need_apply = true;
		kick(b);
		loop_timer_arm(b->poll_timer, 0);
		return;
	}
	log_warn("bgp", "BIRD control socket down; BGP announcements depend on BIRD",
		 LF_STR("socket", b->sock_path));
	b->polling = false;
	b->need_apply = true;
	loop_timer_disarm(b->poll_timer);
	for (size_t i = 0; i < b->active.n; i++) {
		b->active.v[i].seen = b->active.v[i].established = false;
		snprintf(b->active.v[i].state, sizeof(b->active.v[i].state), "unknown");
	}
	update_session_metrics(b);
	/* A configuration that changed while the check was in flight. */
	kick(b);
}

static void on_async(const char *text, void *userdata)
{
	(void)userdata;
	log_info("bgp", "BIRD says", LF_STR("message", text));
}

/* ---- routes ---- */

static int cmp_route(const void *a, const void *b)
{
	return krt_route_cmp(a, b);
}

static void count_change(struct bgp *b, const char *op, size_t n)
{
	if (n)
		metric_add(b->m_changes, (double)n, op);
}

int bgp_set_routes(struct bgp *b, const struct krt_route *want, size_t n)
{
	uint32_t last = b->table_base + b->table_count - 1;
	struct krt_route *sorted = NULL;
	size_t m = 0, i = 0, j = 0, added = 0, removed = 0;
	int first_err = 0, r;

	for (size_t k = 0; k < n; k++)
		if (want[k].table < b->table_base || want[k].table > last)
			return -EINVAL;
	if (n) {
		sorted = malloc(n * sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		memcpy(sorted, want, n * sizeof(*sorted));
		/* The policy hands them sorted and distinct already: one
		 * check instead of a sort of every route on every pass. */
		for (m = 1; m < n && krt_route_cmp(&sorted[m - 1], &sorted[m]) < 0; m++)
			;
		if (m < n) {
			m = 0;
			qsort(sorted, n, sizeof(*sorted), cmp_route);
			for (size_t k = 0; k < n; k++)
				if (m == 0 || krt_route_cmp(&sorted[m - 1], &sorted[k]) != 0)
					sorted[m++] = sorted[k];
		}
	}
	if (!b->routes_synced) {
		/* Whatever an earlier run left in our tables goes. */
		struct krt_sync_stats st = { 0 };

		r = krt_sync(b->krt, b->table_base, last, sorted, m, &st);
		count_change(b, "add", st.added);
		count_change(b, "del", st.removed);
		if (r < 0)
			log_warn("bgp", "cannot sync the advertised prefixes to the kernel",
				 LF_UINT("failed", st.failed), LF_ERR(r));
		b->routes_synced = r == 0;
		free(b->routes);
		b->routes = sorted;
		b->n_routes = m;
		metric_set(b->m_prefixes, (double)m);
		return r;
	}
	while (i < b->n_routes || j < m) {
		int c = i == b->n_routes ? 1
			: j == m	 ? -1
					 : krt_route_cmp(&b->routes[i], &sorted[j]);

		if (c == 0 && b->routes[i].type == sorted[j].type) {
			i++;
			j++;
			continue;
		}
		if (c < 0) {
			r = krt_del(b->krt, &b->routes[i++]);
			if (r == 0)
				removed++;
		} else {
			/* New, or the same prefix with another type (replaced). */
			r = krt_add(b->krt, &sorted[j++]);
			if (c == 0)
				i++;
			if (r == 0)
				added++;
		}
		if (r < 0 && !first_err)
			first_err = r;
	}
	count_change(b, "add", added);
	count_change(b, "del", removed);
	if (first_err) {
		log_warn("bgp", "cannot change an advertised prefix in the kernel",
			 LF_ERR(first_err));
		/* Next call: a full sync repairs whatever failed. */
		b->routes_synced = false;
	}
	free(b->routes);
	b->routes = sorted;
	b->n_routes = m;
	metric_set(b->m_prefixes, (double)m);
	return first_err;
}

/* ---- life cycle ---- */

/* mkdir -p of path's directory (0755), for /run/ironlb/bird. */
static int ensure_dir_of(const char *path)
{
	char dir[4096];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -errno;
	return 0;
}

static int setup_metrics(struct bgp *b, struct metrics *m)
{
	if (!m)
		return 0;
	b->m_bird_up =
		metrics_gauge(m, "ironlb_speaker_bgp_bird_up",
			      "Whether BIRD's control socket is connected (1) or not (0).", NULL);
	b->m_session_up = metrics_gauge(m, "ironlb_speaker_bgp_session_up",
					"Whether the BGP session to a peer is established, by "
					"BGPPeer name.",
					"peer");
	b->m_prefixes = metrics_gauge(m, "ironlb_speaker_bgp_prefixes_advertised",
				      "Prefixes in the kernel tables BIRD advertises from.", NULL);
	b->m_reconf =
		metrics_counter(m, "ironlb_speaker_bird_reconfigurations_total",
				"BIRD configuration changes, by result (ok, failed).", "result");
	b->m_changes =
		metrics_counter(m, "ironlb_speaker_bgp_route_changes_total",
				"Prefixes added to or removed from the kernel tables.", "op");
	if (!b->m_bird_up || !b->m_session_up || !b->m_prefixes || !b->m_reconf || !b->m_changes)
		return -ENOMEM;
	metric_set(b->m_bird_up, 0);
	metric_set(b->m_prefixes, 0);
	metric_add(b->m_reconf, 0, "ok");
	metric_add(b->m_reconf, 0, "failed");
	metric_add(b->m_changes, 0, "add");
	metric_add(b->m_changes, 0, "del");
	return 0;
}

struct bgp *bgp_new(struct loop *l, struct metrics *m, const struct bgp_cfg *cfg)
{
	struct bgp *b = calloc(1, sizeof(*b));
	struct bird_ctl_cfg cc = { 0 };
	int r;

	if (!b)
		return NULL;
	b->loop = l;
	b->table_base = cfg->table_base ? cfg->table_base : BGP_DEFAULT_TABLE_BASE;
	b->table_count = cfg->table_count ? cfg->table_count : BGP_DEFAULT_TABLE_COUNT;
	b->poll_us = cfg->poll_us ? cfg->poll_us : BGP_DEFAULT_POLL_US;
	b->conf_path = strdup(cfg->bird_config ? cfg->bird_config : BGP_DEFAULT_BIRD_CONFIG);
	b->sock_path = strdup(cfg->bird_socket ? cfg->bird_socket : BGP_DEFAULT_BIRD_SOCKET);
	if (!b->conf_path || !b->sock_path ||
	    asprintf(&b->tmp_path, "%s.check", b->conf_path) == -1) {
		b->tmp_path = NULL;
		log_error("bgp", "out of memory at start-up");
		goto fail;
	}
	/* The first bgp_set_routes() empties the whole range of our routes:
	 * it must not hold the kernel's own tables (default 253, main 254,
	 * local 255, where the datapath keeps its routes of the same
	 * protocol). */
	if ((uint64_t)b->table_base + b->table_count - 1 > UINT32_MAX - 1 ||
	    (b->table_base <= KRT_TABLE_LOCAL && b->table_base + b->table_count - 1 >= 253)) {
		log_error("bgp", "kernel table range out of bounds or holding tables 253-255",
			  LF_UINT("base", b->table_base), LF_UINT("count", b->table_count));
		goto fail;
	}
	if (bird_ctl_quote(b->conf_path, b->conf_quoted, sizeof(b->conf_quoted)) < 0 ||
	    bird_ctl_quote(b->tmp_path, b->tmp_quoted, sizeof(b->tmp_quoted)) < 0) {
		log_error("bgp",
			  "BIRD config path unusable in a BIRD command (quotes, "
			  "backslashes, control characters or too long)",
			  LF_STR("path", b->conf_path));
		goto fail;
	}
	if (!cfg->initial) {
		log_error("bgp", "no initial BIRD configuration");
		goto fail;
	}
	if (setup_metrics(b, m) < 0) {
		log_error("bgp", "cannot register the BGP metrics");
		goto fail;
	}
	r = krt_open(&b->krt);
	if (r < 0) {
		log_error("bgp", "cannot open a route netlink socket", LF_ERR(r));
		goto fail;
	}
	r = ensure_dir_of(b->conf_path);
	if (r < 0) {
		log_error("bgp", "cannot create the BIRD configuration directory",
			  LF_STR("path", b->conf_path), LF_ERR(r));
		goto fail;
	}
	r = bgp_set_config(b, cfg->initial);
	if (r < 0)
		goto fail; /* logged */
	b->poll_timer = loop_timer_new(l, on_poll, b);
	cc.socket_path = b->sock_path;
	cc.timeout_us = cfg->command_timeout_us;
	cc.backoff_min_us = cfg->backoff_min_us;
	cc.backoff_max_us = cfg->backoff_max_us;
	cc.on_state = on_bird_state;
	cc.on_async = on_async;
	cc.userdata = b;
	b->ctl = b->poll_timer ? bird_ctl_new(l, &cc) : NULL;
	if (!b->ctl) {
		log_error("bgp", "cannot start the BIRD control-socket client",
			  LF_STR("socket", b->sock_path), LF_ERR(-errno));
		goto fail;
	}
	log_info("bgp", "BGP through BIRD started", LF_STR("config", b->conf_path),
		 LF_STR("socket", b->sock_path), LF_UINT("table_base", b->table_base),
		 LF_UINT("table_count", b->table_count));
	return b;
fail:
	bgp_free(b);
	return NULL;
}

void bgp_free(struct bgp *b)
{
	size_t failed = 0;

	if (!b)
		return;
	/* Clean shutdown withdraws: BIRD sees the routes go and tells the
	 * peers, so traffic moves to other nodes before this one stops. */
	for (size_t i = 0; b->krt && i < b->n_routes; i++)
		if (krt_del(b->krt, &b->routes[i]) < 0)
			failed++;
	if (failed)
		log_warn("bgp", "some advertised prefixes could not be withdrawn",
			 LF_UINT("failed", failed));
	bird_ctl_free(b->ctl);
	loop_timer_free(b->poll_timer);
	krt_close(b->krt);
	if (b->tmp_path && b->step == STEP_CHECK)
		unlink(b->tmp_path);
	free(b->routes);
	peers_clear(&b->want);
	peers_clear(&b->active);
	peers_clear(&b->inflight);
	free(b->want_text);
	free(b->file_text);
	free(b->failed_text);
	free(b->bird_text);
	free(b->inflight_text);
	free(b->conf_path);
	free(b->tmp_path);
	free(b->sock_path);
	free(b);
}

/* ---- status ---- */

void bgp_info(const struct bgp *b, struct bgp_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->bird_up = b->bird_up;
	ret->apply = b->apply;
	snprintf(ret->apply_message, sizeof(ret->apply_message), "%s", b->apply_msg);
	ret->apply_wall_us = b->apply_wall_us;
	ret->n_routes = b->n_routes;
	ret->n_sessions = b->active.n;
	for (size_t i = 0; i < b->active.n; i++)
		if (b->active.v[i].established)
			ret->n_sessions_up++;
	ret->reconfigurations_ok = b->n_ok;
	ret->reconfigurations_failed = b->n_failed;
}

static json_t *iso_time(uint64_t wall_us)
{
	time_t t = (time_t)(wall_us / 1000000);
	struct tm tm;
	char buf[32];

	if (!wall_us)
		return json_null();
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

void bgp_status(const struct bgp *b, json_t *out)
{
	json_t *o, *sessions, *tables, *config; /* all new until set into o */

	if (!b)
		return;
	o = json_object();
	sessions = json_array();
	tables = json_array();
	config = json_pack("{s:s, s:s, s:s}", "path", b->conf_path, "state",
			   bgp_apply_state_str(b->apply), "message", b->apply_msg);
	if (!o || !sessions || !tables || !config) {
		json_decref(o);
		json_decref(sessions);
		json_decref(tables);
		json_decref(config);
		return;
	}
	json_object_set_new(config, "time", iso_time(b->apply_wall_us));
	json_object_set_new(config, "reconfigurations_ok", json_integer((json_int_t)b->n_ok));
	json_object_set_new(config, "reconfigurations_failed",
			    json_integer((json_int_t)b->n_failed));
	for (size_t i = 0; i < b->active.n; i++) {
		const struct session *s = &b->active.v[i];

		json_array_append_new(sessions, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "peer",
							  s->name, "address", s->address, "state",
							  s->state, "since", s->since, "info",
							  s->info, "established", s->established));
	}
	for (size_t i = 0; i < b->n_routes;) {
		uint32_t t = b->routes[i].table;
		size_t k = i;

		while (k < b->n_routes && b->routes[k].table == t)
			k++;
		json_array_append_new(tables, json_pack("{s:I, s:I}", "table", (json_int_t)t,
							"routes", (json_int_t)(k - i)));
		i = k;
	}
	json_object_set_new(o, "bird", json_string(b->bird_up ? "up" : "down"));
	json_object_set_new(o, "bird_socket", json_string(b->sock_path));
	json_object_set_new(o, "config", config);
	json_object_set_new(o, "sessions", sessions);
	json_object_set_new(o, "tables", tables);
	json_object_set_new(o, "routes", json_integer((json_int_t)b->n_routes));
	json_object_set_new(out, "bgp", o);
}

bool bgp_healthy(const struct bgp *b, char *detail, size_t len)
{
	size_t down = 0;

	if (!b->bird_up) {
		snprintf(detail, len, "BGP: BIRD not reachable at %s", b->sock_path);
		return false;
	}
	if (b->apply == BGP_APPLY_FAILED) {
		snprintf(detail, len, "BGP: BIRD rejected the configuration: %s", b->apply_msg);
		return false;
	}
	for (size_t i = 0; i < b->active.n; i++)
		if (!b->active.v[i].established)
			down++;
	if (down) {
		snprintf(detail, len, "BGP: %zu of %zu sessions not established", down,
			 b->active.n);
		return false;
	}
	snprintf(detail, len, "BGP: %zu sessions established", b->active.n);
	return true;
}
