/* Common start-up of both daemons: shared flags and their validation. */
#include "ironlb/daemon.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ironlb/httpd.h"
#include "ironlb/metrics.h"
#include "ironlb/parse.h"

#ifndef IRONLB_VERSION
#define IRONLB_VERSION "0.0.0-unknown"
#endif

const char ironlb_version[] = IRONLB_VERSION;

void daemon_opts_init(struct daemon_opts *o, const char *prog, const char *health_addr)
{
	memset(o, 0, sizeof(*o));
	o->prog = prog;
	o->health_addr = health_addr;
	o->log_level = LOG_LEVEL_INFO;
	o->log_format = LOG_FORMAT_TEXT;
}

void daemon_flag_error(const char *prog, const char *flag, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: ", prog, flag);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int daemon_getopt(int argc, char *const argv[], const struct option *longopts)
{
	int idx = -1, opt;
	bool separate;
	const char *word, *name;
	size_t len;

	opterr = 0;
	opt = getopt_long(argc, argv, ":", longopts, &idx);
	if (opt == -1 || opt == '?' || opt == ':' || idx < 0)
		return opt;
	/* The word that named the flag: the last one consumed, or the one
	 * before it when the value came as a word of its own. */
	separate = optarg && optind >= 2 && optarg == argv[optind - 1];
	word = argv[optind - 1 - separate];
	name = longopts[idx].name;
	len = strlen(name);
	if (strncmp(word, "--", 2) == 0 && strncmp(word + 2, name, len) == 0 &&
	    (word[2 + len] == '\0' || word[2 + len] == '='))
		return opt;
	if (separate)
		optind--; /* so that argv[optind - 1] names the flag */
	optopt = 0;
	return '?';
}

void daemon_bad_flag(const char *prog, int optopt_, char *const argv[], int optind_)
{
	const char *word = optind_ >= 1 ? argv[optind_ - 1] : NULL;
	int name_len = word ? (int)strcspn(word, "=") : 0;

	if (optopt_ > 0 && optopt_ < 0x100)
		/* Short flags: none is known. The word may hold several
		 * ("-xy"), so name the character getopt stopped at. */
		fprintf(stderr, "%s: unknown flag -%c (see --help)\n", prog, optopt_);
	else if (!word)
		fprintf(stderr, "%s: bad flag (see --help)\n", prog);
	else if (!optopt_)
		/* getopt leaves optopt 0 for unknown long flags; it has
		 * consumed the offending word. */
		fprintf(stderr, "%s: unknown flag %.*s (see --help)\n", prog, name_len, word);
	else if (word[name_len] == '=')
		fprintf(stderr, "%s: %.*s: takes no value (see --help)\n", prog, name_len, word);
	else
		fprintf(stderr, "%s: %s: missing value (see --help)\n", prog, word);
}

int daemon_opts_parse(struct daemon_opts *o, int opt, const char *arg)
{
	const char *why = NULL;
	struct sockaddr_storage ss;
	socklen_t len;

	switch (opt) {
	case DAEMON_OPT_KUBECONFIG:
		if (!*arg) {
			daemon_flag_error(o->prog, "--kubeconfig", "empty path");
			return -EINVAL;
		}
		o->kubeconfig = arg;
		return 1;
	case DAEMON_OPT_NAMESPACE:
		if (!dns1123_label_valid(arg)) {
			daemon_flag_error(o->prog, "--namespace",
					  "\"%s\" is not a valid namespace name (RFC 1123 label)",
					  arg);
			return -EINVAL;
		}
		o->namespace = arg;
		return 1;
	case DAEMON_OPT_HEALTH_ADDR:
		if (httpd_parse_addr(arg, &ss, &len, &why) < 0) {
			daemon_flag_error(o->prog, "--health-addr", "\"%s\": %s", arg, why);
			return -EINVAL;
		}
		o->health_addr = arg;
		return 1;
	case DAEMON_OPT_LOG_LEVEL:
		if (log_parse_level(arg, &o->log_level) < 0) {
			daemon_flag_error(o->prog, "--log-level",
					  "invalid value \"%s\" (want debug|info|warn|error)", arg);
			return -EINVAL;
		}
		return 1;
	case DAEMON_OPT_LOG_FORMAT:
		if (log_parse_format(arg, &o->log_format) < 0) {
			daemon_flag_error(o->prog, "--log-format",
					  "invalid value \"%s\" (want text|json)", arg);
			return -EINVAL;
		}
		return 1;
	case DAEMON_OPT_HELP:
		o->help = true;
		return 1;
	case DAEMON_OPT_VERSION:
		o->version = true;
		return 1;
	}
	return 0;
}

/* Reads the service account's namespace, if we run in a pod. */
static char *read_sa_namespace(void)
{
	static char ns[64];
	FILE *f = fopen(IRONLB_SA_NAMESPACE_FILE, "re");
	size_t n;

	if (!f)
		return NULL;
	n = fread(ns, 1, sizeof(ns) - 1, f);
	fclose(f);
	ns[n] = '\0';
	ns[strcspn(ns, "\r\n")] = '\0';
	return dns1123_label_valid(ns) ? ns : NULL;
}

int daemon_opts_finish(struct daemon_opts *o)
{
	if (o->kubeconfig && access(o->kubeconfig, R_OK) == -1) {
		daemon_flag_error(o->prog, "--kubeconfig", "%s: %s", o->kubeconfig,
				  strerror(errno));
		return -EINVAL;
	}
	if (!o->namespace) {
		o->namespace = read_sa_namespace();
		if (!o->namespace)
			o->namespace = IRONLB_DEFAULT_NAMESPACE;
	}
	return 0;
}

struct metrics *daemon_metrics_new(const char *component)
{
	struct metrics *reg = metrics_new();
	struct metric *info;

	if (!reg)
		return NULL;
	info = metrics_gauge(reg, "ironlb_build_info",
			     "Always 1; labels name the component and its version.",
			     "component,version");
	if (!info || metrics_add_process_collector(reg) < 0) {
		metrics_free(reg);
		return NULL;
	}
	metric_set(info, 1, component, ironlb_version);
	return reg;
}
