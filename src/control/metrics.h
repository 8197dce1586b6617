/**
 * Counters of the control plane and their Prometheus text rendering.
 * Only the control thread writes them; the workers report through events.
 */
#ifndef WEIR_CONTROL_METRICS_H
#define WEIR_CONTROL_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Error codes counted by weir_signalling_errors_total{code=...}. */
/* clang-format off */
#define WEIR_METRICS_ERROR_CODES \
    X(-32700) X(-32600) X(-32601) X(-32602) X(-32603) \
    X(401) X(403) X(404) X(409) X(413) X(429) X(501) X(503)
/* clang-format on */

typedef struct weir_metrics {
    uint64_t messages_total;     /* signalling frames received */
    uint64_t notifications_sent; /* server → client notifications */
    uint64_t errors_by_code[16]; /* indexed like WEIR_METRICS_ERROR_CODES */
    uint64_t ws_connections;     /* open now */
    uint64_t ws_connections_total;
    uint64_t abuse_disconnects;
    uint64_t http_requests_total;
} weir_metrics;

/** Counts one error answer with this JSON-RPC/application code. */
void weir_metrics_count_error(weir_metrics *m, int code);

typedef struct weir_control weir_control;

/** Renders the Prometheus text; heap string (weir_free), never NULL. */
char *weir_metrics_render(const weir_control *ctl, int64_t now_us);

#endif
