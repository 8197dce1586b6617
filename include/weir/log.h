/**
 * Logging: one line per event, `ts level module event key=value ...`.
 * Usage: #define WEIR_LOG_MODULE "control.room" before including, then
 * WEIR_LOG_INFO("joined room=%s participant=%s", room, id).
 * Never log per packet; per-participant lines go through weir_lograte.
 */
#ifndef WEIR_LOG_H
#define WEIR_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    WEIR_LOG_ERROR = 0,
    WEIR_LOG_WARN = 1,
    WEIR_LOG_INFO = 2,
    WEIR_LOG_DEBUG = 3,
} weir_log_level;

/** Sets the process-wide threshold; called once from main before threads start. */
void weir_log_set_level(weir_log_level level);
weir_log_level weir_log_get_level(void);
/** Parses "error|warn|info|debug"; returns 0 or -WEIR_EINVAL leaving *out unchanged. */
int weir_log_level_parse(const char *name, weir_log_level *out);
const char *weir_log_level_name(weir_log_level level);

void weir_log(weir_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define WEIR_LOG_ENABLED(lvl) ((lvl) <= weir_log_get_level())
#define WEIR_LOG_ERROR(...) weir_log(WEIR_LOG_ERROR, WEIR_LOG_MODULE, __VA_ARGS__)
#define WEIR_LOG_WARN(...) weir_log(WEIR_LOG_WARN, WEIR_LOG_MODULE, __VA_ARGS__)
#define WEIR_LOG_INFO(...) weir_log(WEIR_LOG_INFO, WEIR_LOG_MODULE, __VA_ARGS__)
#define WEIR_LOG_DEBUG(...)                                                                        \
    do {                                                                                           \
        if (WEIR_LOG_ENABLED(WEIR_LOG_DEBUG))                                                      \
            weir_log(WEIR_LOG_DEBUG, WEIR_LOG_MODULE, __VA_ARGS__);                                \
    } while (0)

/**
 * Token bucket for log lines about one participant, so that one bad client
 * cannot flood the log. Embedded in the participant; time passed in.
 */
typedef struct weir_lograte {
    double tokens;
    double per_sec;
    double burst;
    int64_t last_us;
    uint32_t suppressed; /* lines dropped since the last one allowed */
} weir_lograte;

void weir_lograte_init(weir_lograte *r, double per_sec, double burst);
/**
 * True when a line may be written now. When it returns true after drops,
 * *suppressed (if non-NULL) receives how many were dropped, to be reported
 * in that line; the counter then restarts.
 */
bool weir_lograte_allow(weir_lograte *r, int64_t now_us, uint32_t *suppressed);

#endif
