/* kubetool: a driver of the Kubernetes client library for the integration
 * tests (tests/integration/kube_client_*.sh). Each subcommand exercises one
 * part of lib/ against a real server (kube-sim) and prints what happened
 * as lines the scripts grep, one event per line, flushed at once:
 *
 *   kubetool [--kubeconfig FILE] [--http1] COMMAND ...
 *     get RES NS NAME                  code, HTTP version, body
 *     raw METHOD PATH [BODY]           any request (kube-sim's /sim/v1/...)
 *     create RES NS JSON               POST
 *     patch RES NS NAME JSON [--status] [--rv RV]
 *     delete RES NS NAME [--rv RV]
 *     list RES [NS] [--selector SEL]   every key and resourceVersion
 *     increment RES NS NAME KEY [--times N] [--max-attempts N]
 *                                      read-modify-write an integer
 *                                      annotation N times (409 retries)
 *     informer RES [--namespace NS] [--selector SEL] [--duration DUR]
 *              [--watch-timeout SECS] [--backoff-max DUR] [--dump]
 *              [--decode] [--index-label LABEL]
 *                                      add/update/delete/synced/error lines
 *     leader NS NAME IDENTITY [--lease DUR] [--renew DUR] [--retry DUR]
 *            [--tick DUR] [--duration DUR]
 *                                      started/stopped/new-leader lines and
 *                                      "leading" ticks; SIGTERM releases
 *     event KIND NS NAME UID [--type Normal|Warning] [--reason R]
 *           [--message M] [--count N]  record N times, wait, print stats
 *     parallel-get N RES NS NAME       N concurrent GETs; connections used
 *     create-services N NS [--parallel P]   bulk headless Services
 *
 * Exit status: 0 on success, 1 on a failed request, 2 on bad usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ironlb/informer.h"
#include "ironlb/kube.h"
#include "ironlb/kube_event.h"
#include "ironlb/leader.h"
#include "ironlb/log.h"
#include "ironlb/loop.h"
#include "ironlb/parse.h"

static struct loop *loop;
static struct kube_client *client;
static int exit_code;

/* ---- arguments ---- */

struct args {
	int argc;
	char **argv;
	int pos; /* positional arguments consumed */
};

/* Value of --name (removed from the list), or NULL. */
static const char *opt(struct args *a, const char *name)
{
	for (int i = 0; i < a->argc; i++) {
		if (strcmp(a->argv[i], name) != 0)
			continue;
		if (i + 1 >= a->argc) {
			fprintf(stderr, "kubetool: %s needs a value\n", name);
			exit(2);
		}
		const char *v = a->argv[i + 1];

		memmove(&a->argv[i], &a->argv[i + 2], (size_t)(a->argc - i - 2) * sizeof(char *));
		a->argc -= 2;
		return v;
	}
	return NULL;
}

static bool flag(struct args *a, const char *name)
{
	for (int i = 0; i < a->argc; i++) {
		if (strcmp(a->argv[i], name) == 0) {
			memmove(&a->argv[i], &a->argv[i + 1],
				(size_t)(a->argc - i - 1) * sizeof(char *));
			a->argc--;
			return true;
		}
	}
	return false;
}

static const char *arg(struct args *a, const char *what)
{
	if (a->pos >= a->argc) {
		fprintf(stderr, "kubetool: missing %s\n", what);
		exit(2);
	}
	return a->argv[a->pos++];
}

static const char *arg_opt(struct args *a)
{
	return a->pos < a->argc ? a->argv[a->pos++] : NULL;
}

static uint64_t duration(const char *s, uint64_t def)
{
	uint64_t v;

	if (!s)
		return def;
	if (parse_duration_us(s, &v) < 0) {
		fprintf(stderr, "kubetool: bad duration %s\n", s);
		exit(2);
	}
	return v;
}

static unsigned long number(const char *s, unsigned long def)
{
	char *end;
	unsigned long v;

	if (!s)
		return def;
	v = strtoul(s, &end, 10);
	if (*end || end == s) {
		fprintf(stderr, "kubetool: bad number %s\n", s);
		exit(2);
	}
	return v;
}

static const struct kube_resource *resource(const char *name)
{
	const struct kube_resource *r = kube_resource_find(name);

	if (!r) {
		fprintf(stderr, "kubetool: unknown resource %s\n", name);
		exit(2);
	}
	return r;
}

static json_t *json_arg(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je); /* new */

	if (!j) {
		fprintf(stderr, "kubetool: bad JSON: %s\n", je.text);
		exit(2);
	}
	return j;
}

static double now_s(void)
{
	return (double)loop_wall_us() / 1e6;
}

static void on_quit_signal(struct loop *l, int signo, void *userdata)
{
	(void)signo;
	(void)userdata;
	loop_quit(l, 0);
}

static void on_quit_timer(struct loop_timer *t, void *userdata)
{
	(void)t;
	(void)userdata;
	loop_quit(loop, 0);
}

static void print_result(const struct kube_result *res, bool body)
{
	printf("code=%ld err=%d http=%d attempts=%u reason=%s message=\"%s\"\n", res->code,
	       res->err, res->http_version, res->attempts, res->reason, res->message);
	if (body && res->body) {
		char *s = json_dumps(res->body, JSON_COMPACT | JSON_SORT_KEYS);

		printf("%s\n", s ? s : "");
		free(s);
	}
	if (res->err < 0)
		exit_code = 1;
}

/* ---- one-shot requests ---- */

static void on_done_quit(const struct kube_result *res, void *userdata)
{
	print_result(res, userdata != NULL);
	loop_quit(loop, 0);
}

static int submitted(int r)
{
	if (r < 0) {
		fprintf(stderr, "kubetool: request not sent: %s\n", strerror(-r));
		return 1;
	}
	loop_run(loop);
	return exit_code;
}

static int cmd_get(struct args *a)
{
	const struct kube_resource *res = resource(arg(a, "resource"));
	const char *ns = arg(a, "namespace"), *name = arg(a, "name");

	return submitted(kube_get(client, res, ns, name, on_done_quit, (void *)1, NULL));
}

static int cmd_raw(struct args *a)
{
	struct kube_call call = { .method = arg(a, "method"), .raw_path = arg(a, "path") };
	const char *body = arg_opt(a);
	json_t *j = body ? json_arg(body) : NULL;
	int r;

	call.body = j;
	r = kube_submit(client, &call, on_done_quit, (void *)1, NULL);
	json_decref(j);
	return submitted(r);
}

static int cmd_create(struct args *a)
{
	const struct kube_resource *res = resource(arg(a, "resource"));
	const char *ns = arg(a, "namespace");
	json_t *obj = json_arg(arg(a, "object JSON"));
	int r = kube_create(client, res, ns, obj, on_done_quit, NULL, NULL);

	json_decref(obj);
	return submitted(r);
}

static int cmd_patch(struct args *a)
{
	bool status = flag(a, "--status");
	const char *rv = opt(a, "--rv");
	const struct kube_resource *res = resource(arg(a, "resource"));
	const char *ns = arg(a, "namespace"), *name = arg(a, "name");
	json_t *patch = json_arg(arg(a, "patch JSON"));
	int r = kube_patch(client, res, ns, name, status ? "status" : NULL, patch, rv, on_done_quit,
			   (void *)1, NULL);

	json_decref(patch);
	return submitted(r);
}

static int cmd_delete(struct args *a)
{
	const char *rv = opt(a, "--rv");
	const struct kube_resource *res = resource(arg(a, "resource"));
	const char *ns = arg(a, "namespace"), *name = arg(a, "name");

	return submitted(kube_delete(client, res, ns, name, rv, on_done_quit, NULL, NULL));
}

static void on_list_done(const struct kube_result *res, void *userdata)
{
	json_t *item;
	size_t i, n = 0;

	(void)userdata;
	if (res->err < 0) {
		print_result(res, false);
		loop_quit(loop, 0);
		return;
	}
	json_array_foreach (json_object_get(res->body, "items"), i, item) {
		struct kube_meta m;
		char key[512];

		if (kube_meta_get(item, true, true, &m, NULL) < 0)
			continue;
		kube_key_format(m.ns, m.name, key, sizeof(key));
		printf("item %s %s\n", key, m.resource_version);
		n++;
	}
	printf("count=%zu\n", n);
	loop_quit(loop, 0);
}

static int cmd_list(struct args *a)
{
	const char *sel = opt(a, "--selector");
	const struct kube_resource *res = resource(arg(a, "resource"));
	const char *ns = arg_opt(a);
	struct kube_list_opts lo = { .label_selector = sel };

	return submitted(kube_list(client, res, ns, &lo, on_list_done, NULL, NULL));
}

/* ---- read-modify-write ---- */

struct incr {
	const struct kube_resource *res;
	const char *ns, *name, *key;
	unsigned long times, done, max_attempts;
	uint64_t puts, conflicts;
	long long value;
};

static int incr_mutate(json_t *obj, void *userdata)
{
	struct incr *in = userdata;
	json_t *md = json_object_get(obj, "metadata");	  /* borrowed */
	json_t *ann = json_object_get(md, "annotations"); /* borrowed */
	const char *v = json_string_value(json_object_get(ann, in->key));
	char buf[32];

	if (!json_is_object(md))
		return -EBADMSG;
	if (!json_is_object(ann)) {
		ann = json_object();					     /* new */
		if (!ann || json_object_set_new(md, "annotations", ann) < 0) /* steals ann */
			return -ENOMEM;
	}
	in->value = v ? atoll(v) + 1 : 1;
	snprintf(buf, sizeof(buf), "%lld", in->value);
	return json_object_set_new(ann, in->key, json_string(buf)) < 0 ? -ENOMEM : 0;
}

static void incr_next(struct incr *in);

static void on_incr_done(const struct kube_result *res, void *userdata)
{
	struct incr *in = userdata;

	in->puts += res->attempts;
	if (res->attempts > 1)
		in->conflicts += res->attempts - 1;
	if (res->err < 0) {
		printf("increment failed: ");
		print_result(res, false);
		loop_quit(loop, 0);
		return;
	}
	in->done++;
	incr_next(in);
}

static void incr_next(struct incr *in)
{
	int r;

	if (in->done == in->times) {
		printf("done increments=%lu puts=%llu conflicts=%llu last=%lld\n", in->done,
		       (unsigned long long)in->puts, (unsigned long long)in->conflicts, in->value);
		loop_quit(loop, 0);
		return;
	}
	r = kube_update_retry(client, in->res, in->ns, in->name, NULL, (unsigned)in->max_attempts,
			      incr_mutate, on_incr_done, in, NULL);
	if (r < 0) {
		printf("increment not sent: %s\n", strerror(-r));
		exit_code = 1;
		loop_quit(loop, 0);
	}
}

static int cmd_increment(struct args *a)
{
	struct incr in = { 0 };

	in.times = number(opt(a, "--times"), 1);
	in.max_attempts = number(opt(a, "--max-attempts"), 0);
	in.res = resource(arg(a, "resource"));
	in.ns = arg(a, "namespace");
	in.name = arg(a, "name");
	in.key = arg(a, "annotation key");
	incr_next(&in);
	loop_run(loop);
	return exit_code;
}

/* ---- informer ---- */

/* A compact decoded Service, as a daemon would keep: what --decode stores. */
struct svc {
	char type[16];
	char *lb_ip;
	char name[];
};

static int svc_decode(json_t *obj, void *userdata, void **ret_item, const char **ret_why)
{
	json_t *spec = json_object_get(obj, "spec");  /* borrowed */
	json_t *type = json_object_get(spec, "type"); /* borrowed */
	json_t *ing = json_array_get(
		json_object_get(json_object_get(json_object_get(obj, "status"), "loadBalancer"),
				"ingress"),
		0); /* borrowed */
	const char *name =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	const char *ip = json_string_value(json_object_get(ing, "ip"));
	struct svc *s;

	(void)userdata;
	if (!json_is_object(spec)) {
		*ret_why = "spec is missing or not an object";
		return -EBADMSG;
	}
	if (type && !json_is_string(type)) {
		*ret_why = "spec.type is not a string";
		return -EBADMSG;
	}
	if (!name)
		name = "";
	s = calloc(1, sizeof(*s) + strlen(name) + 1);
	if (!s)
		return -ENOMEM;
	strcpy(s->name, name);
	snprintf(s->type, sizeof(s->type), "%s", type ? json_string_value(type) : "ClusterIP");
	if (ip && !(s->lb_ip = strdup(ip))) {
		free(s);
		return -ENOMEM;
	}
	*ret_item = s;
	return 0;
}

static void svc_free(void *item, void *userdata)
{
	struct svc *s = item;

	(void)userdata;
	if (!s)
		return;
	free(s->lb_ip);
	free(s);
}

static bool inf_decode;

static const char *item_rv(struct informer *inf, const char *key)
{
	const char *rv = informer_get_rv(inf, key);

	return rv ? rv : "-";
}

static void inf_add(struct informer *inf, const char *key, void *item, void *userdata)
{
	(void)item;
	(void)userdata;
	printf("add %s %s\n", key, item_rv(inf, key));
}

static const char *json_rv(void *item)
{
	return json_string_value(
		json_object_get(json_object_get(item, "metadata"), "resourceVersion"));
}

static void inf_update(struct informer *inf, const char *key, void *old_item, void *new_item,
		       void *userdata)
{
	(void)userdata;
	printf("update %s %s %s\n", key, inf_decode ? "-" : json_rv(old_item), item_rv(inf, key));
	(void)new_item;
}

static void inf_delete(struct informer *inf, const char *key, void *old_item, void *userdata)
{
	(void)inf;
	(void)userdata;
	printf("delete %s %s\n", key, inf_decode ? "-" : json_rv(old_item));
}

/* A line of /proc/self/status in kB ("VmRSS", "RssAnon"), or -1. */
static long status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	size_t n = strlen(field);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':' &&
		    sscanf(line + n + 1, "%ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static long rss_kb(void)
{
	return status_kb("VmRSS");
}

static void inf_synced(struct informer *inf, void *userdata)
{
	(void)userdata;
	printf("synced count=%zu rv=%s rss_kb=%ld anon_kb=%ld\n", informer_count(inf),
	       informer_resource_version(inf), rss_kb(), status_kb("RssAnon"));
}

static const char *const error_kinds[] = { "decode", "list", "watch", "stream", "expired" };

static void inf_error(struct informer *inf, const struct informer_error *e, void *userdata)
{
	(void)inf;
	(void)userdata;
	printf("error kind=%s resource=%s key=%s err=%s code=%ld reason=%s retry_ms=%llu "
	       "message=\"%s\"\n",
	       error_kinds[e->kind], e->resource, e->key, log_errno_name(e->err), e->code,
	       e->reason, (unsigned long long)(e->retry_in_us / 1000), e->message);
}

static int dump_one(const char *key, void *item, void *userdata)
{
	struct informer *inf = userdata;

	(void)item;
	printf("cache %s %s\n", key, item_rv(inf, key));
	return 0;
}

static int cmd_informer(struct args *a)
{
	const char *ns = opt(a, "--namespace"), *sel = opt(a, "--selector");
	const char *wt = opt(a, "--watch-timeout"), *index_label = opt(a, "--index-label");
	uint64_t dur = duration(opt(a, "--duration"), 0);
	uint64_t backoff_max = duration(opt(a, "--backoff-max"), 0);
	bool dump = flag(a, "--dump");
	const struct kube_resource *res;
	struct informer_opts o = { 0 };
	struct informer_stats st;
	struct informer *inf;
	struct loop_timer *t = NULL;

	inf_decode = flag(a, "--decode");
	res = resource(arg(a, "resource"));
	o.res = res;
	o.ns = ns;
	o.label_selector = sel;
	o.watch_timeout_min_s = o.watch_timeout_max_s = (unsigned)number(wt, 0);
	o.backoff_max_us = backoff_max;
	if (backoff_max && backoff_max < 800000u)
		o.backoff_initial_us = backoff_max / 2;
	if (inf_decode) {
		o.decode = svc_decode;
		o.free_item = svc_free;
	}
	o.on_add = inf_add;
	o.on_update = inf_update;
	o.on_delete = inf_delete;
	o.on_synced = inf_synced;
	o.on_error = inf_error;
	inf = informer_new(client, loop, &o);
	if (!inf) {
		fprintf(stderr, "kubetool: informer_new failed\n");
		return 1;
	}
	if (index_label &&
	    informer_add_index(inf, "label", informer_index_by_label, (void *)index_label) < 0)
		return 1;
	informer_start(inf);
	if (dur) {
		t = loop_timer_new(loop, on_quit_timer, NULL);
		loop_timer_arm(t, dur);
	}
	loop_run(loop);
	informer_get_stats(inf, &st);
	printf("stats count=%zu lists=%llu relists=%llu watches=%llu events=%llu bookmarks=%llu "
	       "expired=%llu failures=%llu bad_lines=%llu long_lines=%llu decode_errors=%llu "
	       "rss_kb=%ld\n",
	       informer_count(inf), (unsigned long long)st.lists, (unsigned long long)st.relists,
	       (unsigned long long)st.watches, (unsigned long long)st.events,
	       (unsigned long long)st.bookmarks, (unsigned long long)st.expired,
	       (unsigned long long)st.failures, (unsigned long long)st.bad_lines,
	       (unsigned long long)st.long_lines, (unsigned long long)st.decode_errors, rss_kb());
	if (dump)
		informer_foreach(inf, dump_one, inf);
	if (index_label) {
		/* "index VALUE COUNT" for the values given after the label. */
		const char *v;

		while ((v = arg_opt(a)))
			printf("index %s %zu\n", v, informer_index_count(inf, "label", v));
	}
	informer_free(inf);
	loop_timer_free(t);
	return 0;
}

/* ---- leader election ---- */

struct lead {
	struct leader *le;
	struct loop_timer *tick;
	uint64_t tick_us;
	bool quitting;
};

static void lead_started(struct leader *le, void *userdata)
{
	(void)le;
	(void)userdata;
	printf("%.6f started\n", now_s());
}

static void lead_stopped(struct leader *le, void *userdata)
{
	(void)le;
	(void)userdata;
	printf("%.6f stopped\n", now_s());
}

static void lead_new(struct leader *le, const char *id, void *userdata)
{
	(void)le;
	(void)userdata;
	printf("%.6f new-leader %s\n", now_s(), id[0] ? id : "-");
}

static void lead_error(struct leader *le, int err, long code, const char *reason,
		       const char *message, void *userdata)
{
	(void)le;
	(void)userdata;
	printf("%.6f error err=%s code=%ld reason=%s message=\"%s\"\n", now_s(),
	       log_errno_name(err), code, reason, message);
}

static void lead_tick(struct loop_timer *t, void *userdata)
{
	struct lead *l = userdata;

	/* What a daemon does before each write. */
	if (leader_is_leader(l->le))
		printf("%.6f leading\n", now_s());
	loop_timer_arm(t, l->tick_us);
}

static void lead_released(struct leader *le, int err, void *userdata)
{
	(void)le;
	(void)userdata;
	printf("%.6f released err=%s\n", now_s(), err ? log_errno_name(err) : "0");
	loop_quit(loop, 0);
}

static void lead_signal(struct loop *l, int signo, void *userdata)
{
	struct lead *ld = userdata;

	(void)l;
	(void)signo;
	if (ld->quitting)
		return;
	ld->quitting = true;
	leader_release(ld->le, lead_released, ld);
}

static void lead_timeout(struct loop_timer *t, void *userdata)
{
	(void)t;
	lead_signal(loop, SIGTERM, userdata);
}

static int cmd_leader(struct args *a)
{
	struct leader_opts o = { 0 };
	struct lead l = { 0 };
	uint64_t dur;
	struct loop_timer *t = NULL;

	o.lease_duration_us = duration(opt(a, "--lease"), 0);
	o.renew_deadline_us = duration(opt(a, "--renew"), 0);
	o.retry_period_us = duration(opt(a, "--retry"), 0);
	l.tick_us = duration(opt(a, "--tick"), 100000);
	dur = duration(opt(a, "--duration"), 0);
	o.ns = arg(a, "namespace");
	o.name = arg(a, "lease name");
	o.identity = arg(a, "identity");
	o.on_started_leading = lead_started;
	o.on_stopped_leading = lead_stopped;
	o.on_new_leader = lead_new;
	o.on_error = lead_error;
	l.le = leader_new(client, loop, &o);
	if (!l.le) {
		fprintf(stderr, "kubetool: leader_new: %s\n", strerror(errno));
		return 2;
	}
	kube_client_set_write_gate(client, leader_gate, l.le);
	loop_signal_add(loop, SIGTERM, lead_signal, &l);
	loop_signal_add(loop, SIGINT, lead_signal, &l);
	l.tick = loop_timer_new(loop, lead_tick, &l);
	loop_timer_arm(l.tick, l.tick_us);
	if (dur) {
		t = loop_timer_new(loop, lead_timeout, &l);
		loop_timer_arm(t, dur);
	}
	printf("%.6f candidate %s\n", now_s(), o.identity);
	leader_start(l.le);
	loop_run(loop);
	loop_timer_free(l.tick);
	loop_timer_free(t);
	kube_client_set_write_gate(client, NULL, NULL);
	leader_free(l.le);
	return 0;
}

/* ---- events ---- */

static void ev_error(const struct kube_event_error *e, void *userdata)
{
	(void)userdata;
	printf("error err=%s code=%ld reason=%s event=%s/%s object=\"%s\" message=\"%s\"\n",
	       log_errno_name(e->err), e->code, e->status_reason, e->event_ns, e->event_name,
	       e->object, e->message);
}

static void ev_poll(struct loop_timer *t, void *userdata)
{
	struct kube_event_recorder *rec = userdata;
	struct kube_event_stats st;

	kube_event_get_stats(rec, &st);
	if (st.in_flight == 0) {
		loop_quit(loop, 0);
		return;
	}
	loop_timer_arm(t, 10000);
}

static int cmd_event(struct args *a)
{
	const char *type = opt(a, "--type"), *reason = opt(a, "--reason");
	const char *message = opt(a, "--message");
	unsigned long count = number(opt(a, "--count"), 1);
	struct kube_event_opts o = { .component = "kubetool",
				     .host = "testhost",
				     .on_error = ev_error };
	struct kube_object_ref ref = { .api_version = "v1" };
	struct kube_event_recorder *rec;
	struct kube_event_stats st;
	struct loop_timer *t;
	unsigned long rejected = 0;

	ref.kind = arg(a, "kind");
	ref.ns = arg(a, "namespace");
	ref.name = arg(a, "name");
	ref.uid = arg(a, "uid");
	rec = kube_event_recorder_new(client, loop, &o);
	if (!rec)
		return 1;
	for (unsigned long i = 0; i < count; i++) {
		int r = kube_event_record(
			rec, &ref,
			type && !strcmp(type, "Warning") ? KUBE_EVENT_WARNING : KUBE_EVENT_NORMAL,
			reason ? reason : "Testing", message ? message : "test event");

		if (r < 0)
			rejected++;
	}
	t = loop_timer_new(loop, ev_poll, rec);
	loop_timer_arm(t, 0);
	loop_run(loop);
	kube_event_get_stats(rec, &st);
	printf("stats recorded=%llu posted=%llu patched=%llu aggregated=%llu rate_limited=%llu "
	       "errors=%llu rejected=%lu\n",
	       (unsigned long long)st.recorded, (unsigned long long)st.posted,
	       (unsigned long long)st.patched, (unsigned long long)st.aggregated,
	       (unsigned long long)st.rate_limited, (unsigned long long)st.errors, rejected);
	loop_timer_free(t);
	kube_event_recorder_free(rec);
	return st.errors ? 1 : 0;
}

/* ---- concurrency ---- */

struct par {
	unsigned long left, ok, h2;
};

static void on_par_done(const struct kube_result *res, void *userdata)
{
	struct par *p = userdata;

	if (res->err == 0)
		p->ok++;
	if (res->http_version == 2)
		p->h2++;
	if (--p->left == 0)
		loop_quit(loop, 0);
}

static int cmd_parallel_get(struct args *a)
{
	unsigned long n = number(arg(a, "count"), 0);
	const struct kube_resource *res = resource(arg(a, "resource"));
	const char *ns = arg(a, "namespace"), *name = arg(a, "name");
	struct par p = { .left = n };
	struct kube_client_stats st;

	for (unsigned long i = 0; i < n; i++)
		if (kube_get(client, res, ns, name, on_par_done, &p, NULL) < 0)
			return 1;
	if (n)
		loop_run(loop);
	kube_client_get_stats(client, &st);
	printf("ok=%lu http2=%lu connects=%llu requests=%llu\n", p.ok, p.h2,
	       (unsigned long long)st.connects, (unsigned long long)st.requests);
	return p.ok == n ? 0 : 1;
}

struct bulk {
	const char *ns;
	unsigned long next, total, in_flight, ok, failed;
};

static void bulk_fill(struct bulk *b);

static void on_bulk_done(const struct kube_result *res, void *userdata)
{
	struct bulk *b = userdata;

	b->in_flight--;
	if (res->err == 0 || res->code == 409)
		b->ok++;
	else if (b->failed++ < 5)
		print_result(res, false);
	bulk_fill(b);
	if (b->in_flight == 0)
		loop_quit(loop, 0);
}

static void bulk_fill(struct bulk *b)
{
	static unsigned long parallel;

	if (!parallel)
		parallel = 64;
	while (b->in_flight < parallel && b->next < b->total) {
		char name[64];
		json_t *svc;

		snprintf(name, sizeof(name), "svc-%05lu", b->next++);
		svc = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:s, s:[{s:s, s:i, s:s}]}}",
				"apiVersion", "v1", "kind", "Service", "metadata", "name", name,
				"labels", "app", "bulk", "spec", "type", "ClusterIP", "clusterIP",
				"None", "ports", "name", "http", "port", 80, "protocol",
				"TCP"); /* new */
		if (svc &&
		    kube_create(client, &KUBE_SERVICES, b->ns, svc, on_bulk_done, b, NULL) == 0)
			b->in_flight++;
		else
			b->failed++;
		json_decref(svc);
	}
}

static int cmd_create_services(struct args *a)
{
	struct bulk b = { 0 };

	b.total = number(arg(a, "count"), 0);
	b.ns = arg(a, "namespace");
	bulk_fill(&b);
	if (b.in_flight)
		loop_run(loop);
	printf("created=%lu failed=%lu\n", b.ok, b.failed);
	return b.failed ? 1 : 0;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr, "usage: kubetool [--kubeconfig FILE] [--http1] COMMAND ... "
			"(see tests/tools/kubetool.c)\n");
}

int main(int argc, char **argv)
{
	struct args a = { argc - 1, argv + 1, 0 };
	const char *kubeconfig, *cmd, *timeout;
	struct kube_client_opts co = { 0 };
	struct kube_config *cfg = NULL;
	char err[512];
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	kubeconfig = opt(&a, "--kubeconfig");
	co.http1 = flag(&a, "--http1");
	timeout = opt(&a, "--timeout");
	co.timeout_us = duration(timeout, 0);
	if (a.argc < 1) {
		usage();
		return 2;
	}
	cmd = arg(&a, "command");
	r = kube_config_load(kubeconfig, &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "kubetool: %s\n", err);
		return 2;
	}
	loop = loop_new();
	client = loop ? kube_client_new(loop, cfg, &co) : NULL;
	if (!client) {
		fprintf(stderr, "kubetool: cannot create the client\n");
		return 1;
	}
	kube_config_free(cfg);
	loop_signal_add(loop, SIGTERM, on_quit_signal, NULL);
	loop_signal_add(loop, SIGINT, on_quit_signal, NULL);
	if (!strcmp(cmd, "get"))
		r = cmd_get(&a);
	else if (!strcmp(cmd, "raw"))
		r = cmd_raw(&a);
	else if (!strcmp(cmd, "create"))
		r = cmd_create(&a);
	else if (!strcmp(cmd, "patch"))
		r = cmd_patch(&a);
	else if (!strcmp(cmd, "delete"))
		r = cmd_delete(&a);
	else if (!strcmp(cmd, "list"))
		r = cmd_list(&a);
	else if (!strcmp(cmd, "increment"))
		r = cmd_increment(&a);
	else if (!strcmp(cmd, "informer"))
		r = cmd_informer(&a);
	else if (!strcmp(cmd, "leader"))
		r = cmd_leader(&a);
	else if (!strcmp(cmd, "event"))
		r = cmd_event(&a);
	else if (!strcmp(cmd, "parallel-get"))
		r = cmd_parallel_get(&a);
	else if (!strcmp(cmd, "create-services"))
		r = cmd_create_services(&a);
	else {
		usage();
		r = 2;
	}
	kube_client_free(client);
	loop_free(loop);
	return r;
}
