/* ironlb-controller: hands out addresses from IPAddressPools to Services and
 * writes them into Service status. This file is the process's start-up:
 * flags, logging, signals, the probes endpoint and the event loop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "controller.h"
#include "ironlb/daemon.h"
#include "ironlb/kube.h"
#include "ironlb/kube_config.h"
#include "ironlb/httpd.h"
#include "ironlb/log.h"
#include "ironlb/loop.h"
#include "ironlb/metrics.h"
#include "ironlb/parse.h"

#define PROG "ironlb-controller"
#define CONTROLLER_DEFAULT_HEALTH_ADDR ":7480"
#define CONTROLLER_DEFAULT_LB_CLASS "ironlb.io/lb"

enum ip_mode { IP_MODE_VIP, IP_MODE_PROXY };

struct controller_opts {
	struct daemon_opts common;
	const char *lb_class;
	bool default_class;
	enum ip_mode ip_mode;
	bool leader_elect;
	uint64_t lease_duration_us;
	uint64_t renew_deadline_us;
	uint64_t retry_period_us;
};

enum {
	OPT_LB_CLASS = DAEMON_OPT_FIRST_PRIVATE,
	OPT_DEFAULT_CLASS,
	OPT_IP_MODE,
	OPT_LEADER_ELECT,
	OPT_LEASE_DURATION,
	OPT_RENEW_DEADLINE,
	OPT_RETRY_PERIOD,
};

static const struct option long_options[] = {
	DAEMON_COMMON_OPTIONS,
	{ "lb-class", required_argument, NULL, OPT_LB_CLASS },
	{ "default-class", required_argument, NULL, OPT_DEFAULT_CLASS },
	{ "ip-mode", required_argument, NULL, OPT_IP_MODE },
	{ "leader-elect", required_argument, NULL, OPT_LEADER_ELECT },
	{ "leader-elect-lease-duration", required_argument, NULL, OPT_LEASE_DURATION },
	{ "leader-elect-renew-deadline", required_argument, NULL, OPT_RENEW_DEADLINE },
	{ "leader-elect-retry-period", required_argument, NULL, OPT_RETRY_PERIOD },
	{ 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [FLAGS]\n"
		"\n"
		"Assigns addresses from ironlb IPAddressPools to Services of type LoadBalancer\n"
		"and writes them into the Services' status.\n"
		"\n"
		"Flags:\n" DAEMON_COMMON_HELP
		"  --health-addr ADDR     listen address for /healthz, /readyz and /metrics\n"
		"                         (default " CONTROLLER_DEFAULT_HEALTH_ADDR ")\n"
		"  --lb-class CLASS       spec.loadBalancerClass handled by this controller\n"
		"                         (default " CONTROLLER_DEFAULT_LB_CLASS ")\n"
		"  --default-class BOOL   also handle Services without a loadBalancerClass\n"
		"                         (default true)\n"
		"  --ip-mode MODE         vip|proxy: ipMode written to status ingress entries\n"
		"                         (default vip; proxy when ironlb's datapath delivers\n"
		"                         traffic to NodePorts)\n"
		"  --leader-elect BOOL    take a Lease before writing, so that only one replica\n"
		"                         writes (default true)\n"
		"  --leader-elect-lease-duration DUR   (default 15s)\n"
		"  --leader-elect-renew-deadline DUR   (default 10s)\n"
		"  --leader-elect-retry-period DUR     (default 2s)\n"
		"\n"
		"Durations take a unit: 500ms, 2s, 1m.\n");
}

static int parse_duration_flag(const char *flag, const char *arg, uint64_t *ret)
{
	if (parse_duration_us(arg, ret) < 0 || *ret == 0) {
		daemon_flag_error(PROG, flag, "invalid duration \"%s\" (e.g. 2s, 500ms)", arg);
		return -EINVAL;
	}
	return 0;
}

/* Returns 0 to run, 1 to exit 0 (help, version), 2 on a bad flag. */
static int parse_args(int argc, char **argv, struct controller_opts *o)
{
	int opt;

	daemon_opts_init(&o->common, PROG, CONTROLLER_DEFAULT_HEALTH_ADDR);
	o->lb_class = CONTROLLER_DEFAULT_LB_CLASS;
	o->default_class = true;
	o->ip_mode = IP_MODE_VIP;
	o->leader_elect = true;
	o->lease_duration_us = 15000000;
	o->renew_deadline_us = 10000000;
	o->retry_period_us = 2000000;

	while ((opt = daemon_getopt(argc, argv, long_options)) != -1) {
		int r = daemon_opts_parse(&o->common, opt, optarg);

		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_LB_CLASS:
			/* A loadBalancerClass is a label-style qualified name. */
			if (!*optarg || strlen(optarg) > 316 || strchr(optarg, ' ')) {
				daemon_flag_error(PROG, "--lb-class", "invalid class \"%s\"",
						  optarg);
				return 2;
			}
			o->lb_class = optarg;
			break;
		case OPT_DEFAULT_CLASS:
			if (parse_bool(optarg, &o->default_class) < 0) {
				daemon_flag_error(PROG, "--default-class",
						  "invalid value \"%s\" (want true|false)", optarg);
				return 2;
			}
			break;
		case OPT_IP_MODE:
			if (strcmp(optarg, "vip") == 0 || strcmp(optarg, "VIP") == 0) {
				o->ip_mode = IP_MODE_VIP;
			} else if (strcmp(optarg, "proxy") == 0 || strcmp(optarg, "Proxy") == 0) {
				o->ip_mode = IP_MODE_PROXY;
			} else {
				daemon_flag_error(PROG, "--ip-mode",
						  "invalid value \"%s\" (want vip|proxy)", optarg);
				return 2;
			}
			break;
		case OPT_LEADER_ELECT:
			if (parse_bool(optarg, &o->leader_elect) < 0) {
				daemon_flag_error(PROG, "--leader-elect",
						  "invalid value \"%s\" (want true|false)", optarg);
				return 2;
			}
			break;
		case OPT_LEASE_DURATION:
			if (parse_duration_flag("--leader-elect-lease-duration", optarg,
						&o->lease_duration_us) < 0)
				return 2;
			break;
		case OPT_RENEW_DEADLINE:
			if (parse_duration_flag("--leader-elect-renew-deadline", optarg,
						&o->renew_deadline_us) < 0)
				return 2;
			break;
		case OPT_RETRY_PERIOD:
			if (parse_duration_flag("--leader-elect-retry-period", optarg,
						&o->retry_period_us) < 0)
				return 2;
			break;
		default:
			daemon_bad_flag(PROG, optopt, argv, optind);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument \"%s\" (see --help)\n", argv[optind]);
		return 2;
	}
	if (o->common.help) {
		usage(stdout);
		return 1;
	}
	if (o->common.version) {
		printf(PROG " %s\n", ironlb_version);
		return 1;
	}
	/* client-go's rule: lease duration > renew deadline > retry period
	 * (times its jitter factor 1.2). */
	if (o->lease_duration_us <= o->renew_deadline_us) {
		daemon_flag_error(PROG, "--leader-elect-lease-duration",
				  "must be greater than --leader-elect-renew-deadline");
		return 2;
	}
	if (o->renew_deadline_us <= o->retry_period_us * 12 / 10) {
		daemon_flag_error(PROG, "--leader-elect-renew-deadline",
				  "must be greater than 1.2 x --leader-elect-retry-period");
		return 2;
	}
	if (daemon_opts_finish(&o->common) < 0)
		return 2;
	return 0;
}

struct daemon {
	struct controller_opts opts;
	struct loop *loop;
	struct metrics *metrics;
	struct httpd *httpd;
	struct kube_config *kcfg;
	struct kube_client *client;
	struct controller *ctl;
	struct loop_timer *quit_timer;
	struct loop_timer *retry_timer;
	bool stopping;
	char identity[200];
	char not_ready[512];
};

#define CONFIG_RETRY_US 5000000

/* Loads the API server configuration, then starts the client and the
 * controller. Without --kubeconfig and outside a cluster (-ENOENT) the
 * daemon keeps serving its probes, not ready, and tries again every 5 s
 * (the service account may be mounted late). Returns 0 or a negative
 * errno after logging. */
static int daemon_connect(struct daemon *d)
{
	char err[512];
	int r = kube_config_load(d->opts.common.kubeconfig, &d->kcfg, err, sizeof(err));

	if (r < 0) {
		if (strcmp(err, d->not_ready) != 0)
			log_error("main", "cannot load the API server configuration",
				  LF_STR("message", err), LF_ERR(r));
		snprintf(d->not_ready, sizeof(d->not_ready), "%s", err);
		if (!d->opts.common.kubeconfig && r == -ENOENT)
			loop_timer_arm(d->retry_timer, CONFIG_RETRY_US);
		return r;
	}
	d->client = kube_client_new(d->loop, d->kcfg,
				    &(struct kube_client_opts){
					    .metrics = d->metrics,
					    .user_agent = PROG "/" IRONLB_VERSION,
				    });
	if (!d->client) {
		r = -errno;
		log_error("main", "cannot create the API client", LF_ERR(r));
		return r < 0 ? r : -ENOMEM;
	}
	d->ctl = controller_new(d->loop, d->client, d->metrics,
				&(struct controller_config){
					.namespace = d->opts.common.namespace,
					.lb_class = d->opts.lb_class,
					.default_class = d->opts.default_class,
					.ip_mode = d->opts.ip_mode == IP_MODE_PROXY
							   ? SERVICE_IP_MODE_PROXY
							   : SERVICE_IP_MODE_VIP,
					.leader_elect = d->opts.leader_elect,
					.identity = d->identity,
					.lease_duration_us = d->opts.lease_duration_us,
					.renew_deadline_us = d->opts.renew_deadline_us,
					.retry_period_us = d->opts.retry_period_us,
				});
	if (!d->ctl || (r = controller_start(d->ctl)) < 0) {
		r = d->ctl ? r : -errno;
		log_error("main", "cannot start the controller", LF_ERR(r));
		return r < 0 ? r : -ENOMEM;
	}
	d->not_ready[0] = '\0';
	log_info("main", "connecting to the API server", LF_STR("api_server", d->kcfg->server),
		 LF_STR("source", d->kcfg->source));
	return 0;
}

static void on_retry_timer(struct loop_timer *t, void *userdata)
{
	struct daemon *d = userdata;

	if (!d->kcfg && daemon_connect(d) < 0 && d->kcfg)
		loop_quit(d->loop, 1);
}

static void on_shutdown_done(void *userdata)
{
	struct daemon *d = userdata;

	loop_quit(d->loop, 0);
}

static void on_quit_timer(struct loop_timer *t, void *userdata)
{
	struct daemon *d = userdata;

	log_warn("main", "Lease release did not finish in time");
	loop_quit(d->loop, 0);
}

static void on_signal(struct loop *l, int signo, void *userdata)
{
	struct daemon *d = userdata;

	log_info("main", "shutting down", LF_STR("signal", sigabbrev_np(signo)));
	if (d->stopping || !d->ctl) {
		loop_quit(l, 0);
		return;
	}
	d->stopping = true;
	/* Release the Lease so a successor need not wait for it to expire,
	 * but never hang on an API server that does not answer. */
	d->quit_timer = loop_timer_new(l, on_quit_timer, d);
	if (d->quit_timer)
		loop_timer_arm(d->quit_timer, 2000000);
	controller_shutdown(d->ctl, on_shutdown_done, d);
}

static bool daemon_ready(void *userdata, char *detail, size_t len)
{
	struct daemon *d = userdata;

	if (!d->ctl) {
		snprintf(detail, len, "no API server configuration: %s", d->not_ready);
		return false;
	}
	if (!controller_synced(d->ctl)) {
		snprintf(detail, len, "API caches not synced");
		return false;
	}
	return true;
}

/* The Lease holder identity: the pod name in-cluster, else host and pid. */
static void make_identity(char *buf, size_t len)
{
	const char *pod = getenv("POD_NAME");
	char host[128] = "localhost";

	if (pod && *pod) {
		snprintf(buf, len, "%s", pod);
		return;
	}
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, len, "%s_%d", host, (int)getpid());
}

int main(int argc, char **argv)
{
	struct daemon c = { 0 };
	int r, exit_code;

	r = parse_args(argc, argv, &c.opts);
	if (r)
		return r == 1 ? 0 : 2;
	log_setup(c.opts.common.log_level, c.opts.common.log_format);
	signal(SIGPIPE, SIG_IGN);

	c.loop = loop_new();
	c.metrics = daemon_metrics_new("controller");
	if (!c.loop || !c.metrics) {
		log_error("main", "out of memory at start-up");
		return 1;
	}
	if (loop_signal_add(c.loop, SIGTERM, on_signal, &c) < 0 ||
	    loop_signal_add(c.loop, SIGINT, on_signal, &c) < 0) {
		log_error("main", "cannot set up signal handling");
		return 1;
	}
	c.httpd = httpd_new(c.loop, c.opts.common.health_addr, c.metrics, &r);
	if (!c.httpd) {
		log_error("main", "cannot serve probes and metrics",
			  LF_STR("addr", c.opts.common.health_addr), LF_ERR(r));
		exit_code = 1;
		goto out;
	}
	httpd_set_ready(c.httpd, daemon_ready, &c);
	make_identity(c.identity, sizeof(c.identity));
	c.retry_timer = loop_timer_new(c.loop, on_retry_timer, &c);
	if (!c.retry_timer) {
		log_error("main", "out of memory at start-up");
		exit_code = 1;
		goto out;
	}
	r = daemon_connect(&c);
	if (r == -EINVAL || (r < 0 && c.opts.common.kubeconfig)) {
		/* A --kubeconfig that cannot be used is a configuration error. */
		exit_code = 2;
		goto out;
	}
	if (r < 0 && r != -ENOENT) {
		exit_code = 1;
		goto out;
	}
	log_info("main", "started", LF_STR("version", ironlb_version),
		 LF_STR("namespace", c.opts.common.namespace),
		 LF_STR("health_addr", c.opts.common.health_addr),
		 LF_STR("lb_class", c.opts.lb_class),
		 LF_STR("default_class", c.opts.default_class ? "true" : "false"),
		 LF_STR("ip_mode", c.opts.ip_mode == IP_MODE_PROXY ? "Proxy" : "VIP"),
		 LF_STR("leader_elect", c.opts.leader_elect ? "true" : "false"),
		 LF_STR("identity", c.identity),
		 LF_STR("api_server", c.kcfg ? c.kcfg->server : "(not configured yet)"));
	r = loop_run(c.loop);
	exit_code = r < 0 ? 1 : r;
	log_info("main", "stopped");
out:
	controller_free(c.ctl);
	kube_client_free(c.client);
	kube_config_free(c.kcfg);
	loop_timer_free(c.quit_timer);
	loop_timer_free(c.retry_timer);
	httpd_free(c.httpd);
	metrics_free(c.metrics);
	loop_free(c.loop);
	return exit_code;
}
