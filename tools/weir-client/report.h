/**
 * The JSON report and the expectations given on the command line.
 *
 * Expectations are judged from the report itself, so what the report shows
 * is exactly what was checked. Each becomes {"name", "ok", "detail"} in
 * report["expectations"], and report["ok"] is their conjunction (true when
 * there are none). Pure (jansson only); main writes the file.
 */
#ifndef WC_REPORT_H
#define WC_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "options.h"

/**
 * Adds "expectations" and "ok" to report (an object holding "published"
 * (object or null), "subscribed" (array) and "datachannel" (object or
 * null)) and returns ok.
 */
bool wc_report_check(json_t *report, const wc_options *o);

/** Writes report (indented) to path, "-" = stdout. 0, or -errno with a reason in err. */
int wc_report_write(const json_t *report, const char *path, char *err, size_t err_len);

#endif
