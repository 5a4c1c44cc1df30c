/* Structured logging: logfmt or JSON lines on stderr, one write per line so
 * lines from one process never interleave. */
#include "ironlb/log.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
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

/* A line under construction. Every write is all or nothing, and only below
 * limit; one that does not fit sets overflow instead. Escape sequences and
 * UTF-8 characters are written as one unit each, so a cut line never ends
 * inside either. */
struct buf {
	char *p;
	size_t len, cap, limit;
	bool overflow;
};

/* Room kept at the end of a line for the closing quote, the truncated
 * field and the closing brace, whatever was cut before them. */
#define LOG_LINE_RESERVE 32
/* Bytes a comp field may take, key and quotes included. */
#define LOG_COMP_MAX 128

static void buf_write(struct buf *b, const char *s, size_t n)
{
	if (b->len + n >= b->limit) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void buf_putc(struct buf *b, char c)
{
	buf_write(b, &c, 1);
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_write(b, s, strlen(s));
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_write(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Length of the well-formed UTF-8 sequence at s (as JSON parsers demand:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		unsigned char lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		unsigned char lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
			       ? 4
			       : 0;
	}
	return 0;
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
 * the log collector raw, whatever an API object or packet carried, and
 * bytes that are not UTF-8 become U+FFFD so that every JSON line parses. */
static void buf_put_escaped(struct buf *b, const char *s)
{
	for (; *s && !b->overflow; s++) {
		unsigned char c = (unsigned char)*s;
		size_t n;

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
			if (c < 0x20 || c == 0x7f) {
				buf_printf(b, "\\u%04x", c);
			} else if (c < 0x80) {
				buf_putc(b, (char)c);
			} else if ((n = utf8_len((const unsigned char *)s))) {
				buf_write(b, s, n);
				s += n - 1;
			} else {
				buf_puts(b, "\xef\xbf\xbd");
			}
		}
	}
}

/* Writes a string value, cut (at a character boundary) where the line is
 * full; the closing quote is always written, from the reserve. */
static void buf_put_value(struct buf *b, const char *s)
{
	if (log_fmt == LOG_FORMAT_JSON || logfmt_needs_quotes(s)) {
		size_t limit;

		buf_putc(b, '"');
		if (b->overflow)
			return;
		buf_put_escaped(b, s);
		limit = b->limit;
		b->limit = b->cap;
		buf_putc(b, '"');
		b->limit = limit;
	} else {
		buf_puts(b, s);
	}
}

/* Keys are the program's own words; in logfmt, anything that would break
 * the key=value syntax is replaced all the same. */
static void buf_put_key(struct buf *b, const char *key)
{
	if (log_fmt == LOG_FORMAT_JSON) {
		buf_puts(b, ",\"");
		buf_put_escaped(b, key);
		buf_puts(b, "\":");
		return;
	}
	buf_putc(b, ' ');
	for (; *key; key++) {
		unsigned char c = (unsigned char)*key;

		buf_putc(b, c > ' ' && c < 0x7f && c != '=' && c != '"' ? (char)c : '_');
	}
	buf_putc(b, '=');
}

static void buf_put_double(struct buf *b, double d)
{
	const char *word = isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf";

	if (isfinite(d)) {
		buf_printf(b, "%.6g", d);
	} else if (log_fmt == LOG_FORMAT_JSON) {
		/* JSON has no literal for these; a string keeps the meaning. */
		buf_putc(b, '"');
		buf_puts(b, word);
		buf_putc(b, '"');
	} else {
		buf_puts(b, word);
	}
}

static void buf_put_field(struct buf *b, const char *key, const struct log_field *f, const char *s)
{
	buf_put_key(b, key);
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
		buf_put_double(b, f->d);
		break;
	}
}

/* ts, level, comp and msg always make it (comp and msg cut if they must
 * be); then every field that fits whole, in order. Anything left out is
 * flagged with truncated=true, so a cut line is still one valid line. */
static void build_line(struct buf *b, const char *ts, enum log_level level, const char *comp,
		       const char *msg, const struct log_field *fields, size_t n)
{
	bool truncated;

	b->limit = b->cap - LOG_LINE_RESERVE;
	if (log_fmt == LOG_FORMAT_JSON) {
		buf_puts(b, "{\"ts\":\"");
		buf_puts(b, ts);
		buf_puts(b, "\"");
	} else {
		buf_puts(b, "ts=");
		buf_puts(b, ts);
	}
	buf_put_field(b, "level", NULL, level_names[level]);
	/* A component name is short; a long one must not push msg out. */
	b->limit = b->len + LOG_COMP_MAX;
	buf_put_field(b, "comp", NULL, comp ? comp : "main");
	truncated = b->overflow;
	b->overflow = false;
	b->limit = b->cap - LOG_LINE_RESERVE;
	buf_put_field(b, "msg", NULL, msg ? msg : "");
	truncated = truncated || b->overflow;
	for (size_t i = 0; i < n; i++) {
		size_t before = b->len;

		if (!fields[i].key)
			continue;
		buf_put_field(b, fields[i].key, &fields[i], NULL);
		if (b->overflow) {
			/* Leave this one out; a shorter one after it (often
			 * err=) may still fit. */
			b->len = before;
			b->overflow = false;
			truncated = true;
		}
	}
	b->limit = b->cap;
	b->overflow = false;
	if (truncated) {
		buf_put_key(b, "truncated");
		buf_puts(b, "true");
	}
	if (log_fmt == LOG_FORMAT_JSON)
		buf_putc(b, '}');
}

void log_emit(enum log_level level, const char *comp, const char *msg,
	      const struct log_field *fields, size_t n)
{
	char line[LOG_LINE_MAX];
	/* One byte is kept for the newline. */
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
	build_line(&b, ts, level, comp, msg, fields, n);
	line[b.len++] = '\n';
	fwrite(line, 1, b.len, out);
	fflush(out);
}

const char *log_errno_name(int err)
{
	static char other[16];
	const char *name;

	if (err < 0 && err != INT_MIN) /* -INT_MIN does not exist */
		err = -err;
	name = strerrorname_np(err);
	if (name)
		return name;
	snprintf(other, sizeof(other), "E%d", err);
	return other;
}

bool log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_us, unsigned *ret_suppressed)
{
	if (!rl->started || now_us - rl->window_start >= rl->interval_us) {
		rl->started = true;
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
