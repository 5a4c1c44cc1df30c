/* Structured logging: logfmt or JSON lines on stderr, one write per line so
 * lines from one process never interleave. */
#include "ironlb/log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static enum log_level log_min_level = LOG_LEVEL_INFO;
static enum log_format log_fmt = LOG_FORMAT_TEXT;
static FILE *log_stream;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int log_parse_level(const char *s, enum log_level *ret)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_parse_format(const char *s, enum log_format *ret)
{
	if (strcmp(s, "text") == 0)
		*ret = LOG_FORMAT_TEXT;
	else if (strcmp(s, "json") == 0)
		*ret = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

void log_setup(enum log_level level, enum log_format format)
{
	log_min_level = level;
	log_fmt = format;
}

void log_set_stream(FILE *f)
{
	log_stream = f;
}

bool log_enabled(enum log_level level)
{
	return level >= log_min_level;
}

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_putc(struct buf *b, char c)
{
	if (b->len + 1 < b->cap)
		b->p[b->len++] = c;
}

static void buf_puts(struct buf *b, const char *s)
{
	while (*s)
		buf_putc(b, *s++);
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len + 1 >= b->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n < b->cap - b->len ? (size_t)n : b->cap - b->len - 1;
}

/* logfmt values need quotes when they hold spaces, quotes, '=' or nothing. */
static bool logfmt_needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++) {
		if ((unsigned char)*s <= ' ' || *s == '"' || *s == '=' || *s == '\\' ||
		    (unsigned char)*s >= 0x7f)
			return true;
	}
	return false;
}

/* Escapes for both formats: control characters never reach the terminal or
 * the log collector raw, whatever an API object or packet carried. */
static void buf_put_escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_printf(b, "\\u%04x", c);
			else
				buf_putc(b, (char)c);
		}
	}
}

static void buf_put_value(struct buf *b, const char *s)
{
	if (log_fmt == LOG_FORMAT_JSON || logfmt_needs_quotes(s)) {
		buf_putc(b, '"');
		buf_put_escaped(b, s);
		buf_putc(b, '"');
	} else {
		buf_puts(b, s);
	}
}

static void buf_put_field(struct buf *b, const char *key, const struct log_field *f,
			  const char *s)
{
	if (log_fmt == LOG_FORMAT_JSON) {
		buf_puts(b, ",\"");
		buf_put_escaped(b, key);
		buf_puts(b, "\":");
	} else {
		buf_putc(b, ' ');
		buf_puts(b, key);
		buf_putc(b, '=');
	}
	if (!f) {
		buf_put_value(b, s);
		return;
	}
	switch (f->type) {
	case LOG_FIELD_STR:
		if (f->s)
			buf_put_value(b, f->s);
		else
			buf_puts(b, log_fmt == LOG_FORMAT_JSON ? "null" : "\"\"");
		break;
	case LOG_FIELD_INT:
		buf_printf(b, "%lld", f->i);
		break;
	case LOG_FIELD_UINT:
		buf_printf(b, "%llu", f->u);
		break;
	case LOG_FIELD_DOUBLE:
		buf_printf(b, "%.6g", f->d);
		break;
	}
}

static void build_line(struct buf *b, const char *ts, enum log_level level, const char *comp,
		       const char *msg, const struct log_field *fields, size_t n, bool truncated)
{
	if (log_fmt == LOG_FORMAT_JSON) {
		buf_puts(b, "{\"ts\":\"");
		buf_puts(b, ts);
		buf_puts(b, "\"");
	} else {
		buf_puts(b, "ts=");
		buf_puts(b, ts);
	}
	buf_put_field(b, "level", NULL, level_names[level]);
	buf_put_field(b, "comp", NULL, comp ? comp : "main");
	buf_put_field(b, "msg", NULL, msg ? msg : "");
	for (size_t i = 0; i < n; i++)
		if (fields[i].key)
			buf_put_field(b, fields[i].key, &fields[i], NULL);
	if (truncated)
		buf_put_field(b, "truncated", NULL, "true");
	if (log_fmt == LOG_FORMAT_JSON)
		buf_putc(b, '}');
}

void log_emit(enum log_level level, const char *comp, const char *msg,
	      const struct log_field *fields, size_t n)
{
	char line[LOG_LINE_MAX];
	/* One byte is kept for the newline; a line that fills the rest was
	 * cut, and is rebuilt without its fields so that it still parses. */
	struct buf b = { .p = line, .cap = sizeof(line) - 1 };
	char ts[64];
	struct timeval tv;
	struct tm tm;
	FILE *out = log_stream ? log_stream : stderr;

	if (!log_enabled(level))
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (long)(tv.tv_usec / 1000));
	build_line(&b, ts, level, comp, msg, fields, n, false);
	if (b.len + 1 >= b.cap) {
		b.len = 0;
		build_line(&b, ts, level, comp, msg, NULL, 0, true);
	}
	line[b.len++] = '\n';
	fwrite(line, 1, b.len, out);
	fflush(out);
}

const char *log_errno_name(int err)
{
	static char other[16];
	const char *name;

	if (err < 0)
		err = -err;
	name = strerrorname_np(err);
	if (name)
		return name;
	snprintf(other, sizeof(other), "E%d", err);
	return other;
}

bool log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_us, unsigned *ret_suppressed)
{
	if (rl->window_start == 0 || now_us - rl->window_start >= rl->interval_us) {
		if (ret_suppressed)
			*ret_suppressed = rl->suppressed;
		rl->window_start = now_us;
		rl->printed = 0;
		rl->suppressed = 0;
	} else if (ret_suppressed) {
		*ret_suppressed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}
