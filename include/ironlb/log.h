/* Structured logging to stderr: logfmt by default, JSON lines with
 * --log-format=json. Every line carries ts, level, comp and msg, then the
 * fields the caller names (namespace/name, address, interface, ...).
 *
 *	log_warn("arp", "send failed", LF_STR("ifname", ifname), LF_STR("ip", ip),
 *		 LF_ERR(r));
 *
 * Only daemons log; lib/ reports errors to its caller.
 */
#ifndef IRONLB_LOG_H
#define IRONLB_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

enum log_field_type { LOG_FIELD_STR, LOG_FIELD_INT, LOG_FIELD_UINT, LOG_FIELD_DOUBLE };

struct log_field {
	const char *key;
	enum log_field_type type;
	union {
		const char *s;
		long long i;
		unsigned long long u;
		double d;
	};
};

#define LF_STR(k, v) ((struct log_field){ .key = (k), .type = LOG_FIELD_STR, .s = (v) })
#define LF_INT(k, v) ((struct log_field){ .key = (k), .type = LOG_FIELD_INT, .i = (long long)(v) })
#define LF_UINT(k, v)                                                                              \
	((struct log_field){ .key = (k), .type = LOG_FIELD_UINT, .u = (unsigned long long)(v) })
#define LF_DBL(k, v) ((struct log_field){ .key = (k), .type = LOG_FIELD_DOUBLE, .d = (double)(v) })
/* A negative errno as its symbolic name ("ENOENT"). */
#define LF_ERR(r) LF_STR("err", log_errno_name(r))

/* Parse "debug|info|warn|error" and "text|json". 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *ret);
int log_parse_format(const char *s, enum log_format *ret);

void log_setup(enum log_level level, enum log_format format);
/* Redirect output (tests). NULL restores stderr. */
void log_set_stream(FILE *f);
bool log_enabled(enum log_level level);

void log_emit(enum log_level level, const char *comp, const char *msg,
	      const struct log_field *fields, size_t n);

/* "ENOENT" for -ENOENT or ENOENT; "E<n>" for unknown values. Static storage
 * for known values, a thread-unsafe static buffer otherwise. */
const char *log_errno_name(int err);

#define LOG_AT(lvl, comp, msg, ...)                                                                \
	do {                                                                                       \
		if (log_enabled(lvl)) {                                                            \
			const struct log_field log_f_[] = { { 0 }, ##__VA_ARGS__ };                \
			log_emit(lvl, comp, msg, log_f_ + 1,                                       \
				 sizeof(log_f_) / sizeof(log_f_[0]) - 1);                          \
		}                                                                                  \
	} while (0)

#define log_debug(comp, msg, ...) LOG_AT(LOG_LEVEL_DEBUG, comp, msg, ##__VA_ARGS__)
#define log_info(comp, msg, ...) LOG_AT(LOG_LEVEL_INFO, comp, msg, ##__VA_ARGS__)
#define log_warn(comp, msg, ...) LOG_AT(LOG_LEVEL_WARN, comp, msg, ##__VA_ARGS__)
#define log_error(comp, msg, ...) LOG_AT(LOG_LEVEL_ERROR, comp, msg, ##__VA_ARGS__)

/* Rate limit for repeated lines: at most burst lines per interval. When a
 * window closes with lines suppressed, log_ratelimit_ok() reports how many
 * through *ret_suppressed so the caller can say so once. */
struct log_ratelimit {
	uint64_t interval_us;
	unsigned burst;
	uint64_t window_start;
	unsigned printed;
	unsigned suppressed;
	bool started; /* window_start is set (0 is a valid time) */
};

/* clang-format off */
#define LOG_RATELIMIT_INIT(interval_us_, burst_) { .interval_us = (interval_us_), .burst = (burst_) }
/* clang-format on */

bool log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_us, unsigned *ret_suppressed);

#endif
