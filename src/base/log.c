/*
 * Log sink: stderr, one line per event. The level is process-wide state set
 * once from main before threads start and read with relaxed atomics.
 * Lines are formatted into one buffer and written with one write(2) so that
 * lines from different threads never interleave.
 */
#include "weir/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weir/errors.h"

static atomic_int current_level = WEIR_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void weir_log_set_level(weir_log_level level)
{
    atomic_store_explicit(&current_level, (int)level, memory_order_relaxed);
}

weir_log_level weir_log_get_level(void)
{
    return (weir_log_level)atomic_load_explicit(&current_level, memory_order_relaxed);
}

int weir_log_level_parse(const char *name, weir_log_level *out)
{
    for (int i = 0; i <= WEIR_LOG_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (weir_log_level)i;
            return 0;
        }
    }
    return -WEIR_EINVAL;
}

const char *weir_log_level_name(weir_log_level level)
{
    return (level >= WEIR_LOG_ERROR && level <= WEIR_LOG_DEBUG) ? level_names[level] : "?";
}

void weir_log(weir_log_level level, const char *module, const char *fmt, ...)
{
    if (!WEIR_LOG_ENABLED(level))
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts); /* wall time for humans; not used for logic */
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, weir_log_level_name(level), module);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t unused = write(STDERR_FILENO, line, len);
    (void)unused;
}

void weir_lograte_init(weir_lograte *r, double per_sec, double burst)
{
    r->per_sec = per_sec;
    r->burst = burst < 1 ? 1 : burst;
    r->tokens = r->burst;
    r->last_us = 0;
    r->suppressed = 0;
}

bool weir_lograte_allow(weir_lograte *r, int64_t now_us, uint32_t *suppressed)
{
    if (r->last_us && now_us > r->last_us) {
        r->tokens += (double)(now_us - r->last_us) * r->per_sec / 1e6;
        if (r->tokens > r->burst)
            r->tokens = r->burst;
    }
    if (now_us > r->last_us)
        r->last_us = now_us;
    if (r->tokens < 1.0) {
        r->suppressed++;
        return false;
    }
    r->tokens -= 1.0;
    if (suppressed)
        *suppressed = r->suppressed;
    r->suppressed = 0;
    return true;
}
