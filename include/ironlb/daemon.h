/* What both daemons share at start-up: the common flags (--kubeconfig,
 * --namespace, --health-addr, --log-level, --log-format, --help, --version),
 * their parsing and validation, signal handling and the probes endpoint. */
#ifndef IRONLB_DAEMON_H
#define IRONLB_DAEMON_H

#include <getopt.h>
#include <stdbool.h>

#include "ironlb/log.h"

#define IRONLB_DEFAULT_NAMESPACE "ironlb-system"
#define IRONLB_SA_NAMESPACE_FILE "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

/* getopt_long ids of the common flags; daemons number their own from
 * DAEMON_OPT_FIRST_PRIVATE. Every long flag's id is at least 0x100, so that
 * an id below it is always an (unknown) short flag. */
enum {
	DAEMON_OPT_KUBECONFIG = 0x100,
	DAEMON_OPT_NAMESPACE,
	DAEMON_OPT_HEALTH_ADDR,
	DAEMON_OPT_LOG_LEVEL,
	DAEMON_OPT_LOG_FORMAT,
	DAEMON_OPT_HELP,
	DAEMON_OPT_VERSION,
	DAEMON_OPT_FIRST_PRIVATE = 0x200,
};

/* clang-format off */
#define DAEMON_COMMON_OPTIONS                                                                      \
	{ "kubeconfig", required_argument, NULL, DAEMON_OPT_KUBECONFIG },                          \
		{ "namespace", required_argument, NULL, DAEMON_OPT_NAMESPACE },                    \
		{ "health-addr", required_argument, NULL, DAEMON_OPT_HEALTH_ADDR },                \
		{ "log-level", required_argument, NULL, DAEMON_OPT_LOG_LEVEL },                    \
		{ "log-format", required_argument, NULL, DAEMON_OPT_LOG_FORMAT },                  \
		{ "help", no_argument, NULL, DAEMON_OPT_HELP },                                     \
		{ "version", no_argument, NULL, DAEMON_OPT_VERSION }
/* clang-format on */

/* Help text for the common flags, for a daemon's --help. */
#define DAEMON_COMMON_HELP                                                                         \
	"  --kubeconfig FILE      kubeconfig to reach the API server (default: in-cluster\n"       \
	"                         config from the service account)\n"                              \
	"  --namespace NS         ironlb's namespace (default: the service account's\n"            \
	"                         namespace in-cluster, else " IRONLB_DEFAULT_NAMESPACE ")\n"      \
	"  --log-level LEVEL      debug|info|warn|error (default info)\n"                          \
	"  --log-format FORMAT    text (logfmt) or json (default text)\n"                          \
	"  --help                 show this help and exit\n"                                       \
	"  --version              show the version and exit\n"

struct daemon_opts {
	const char *prog;
	const char *kubeconfig;
	const char *namespace;
	const char *health_addr;
	enum log_level log_level;
	enum log_format log_format;
	bool help;
	bool version;
};

/* Sets defaults; health_addr is the daemon's default listen address. */
void daemon_opts_init(struct daemon_opts *o, const char *prog, const char *health_addr);

/* Handles one common flag. Returns 1 if it was one, 0 if it was not ours,
 * or -EINVAL after printing a one-line error naming the flag. */
int daemon_opts_parse(struct daemon_opts *o, int opt, const char *arg);

/* getopt_long(argc, argv, ":", longopts, NULL) with opterr = 0, except
 * that a long flag must be spelled out: an abbreviation ("--log-l") is
 * reported as an unknown flag ('?', optopt 0), so that adding a flag never
 * changes the meaning of a command line that worked before. */
int daemon_getopt(int argc, char *const argv[], const struct option *longopts);

/* Reports an unknown flag, a missing value or a value given to a flag that
 * takes none, after daemon_getopt() returned '?' or ':'; prints one line
 * naming the flag. */
void daemon_bad_flag(const char *prog, int optopt_, char *const argv[], int optind_);

/* Prints "PROG: FLAG: MESSAGE" on one line to stderr. */
void daemon_flag_error(const char *prog, const char *flag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Resolves defaults that need the environment (the namespace) and checks
 * cross-flag constraints. 0 or -EINVAL after printing an error. */
int daemon_opts_finish(struct daemon_opts *o);

/* A metrics registry with the process_* metrics and
 * ironlb_build_info{component,version} 1. NULL on allocation failure. */
struct metrics *daemon_metrics_new(const char *component);

extern const char ironlb_version[];

#endif
