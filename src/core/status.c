#include "tabtrain/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char tt_msg[512];

static const char *const tt_names[TT_STATUS_COUNT] = {
    "TT_OK",           "TT_ERR_INVALID_ARG", "TT_ERR_NOMEM",    "TT_ERR_IO",
    "TT_ERR_FORMAT",   "TT_ERR_CORRUPT",     "TT_ERR_SHAPE",    "TT_ERR_UNSUPPORTED",
    "TT_ERR_LIMIT",    "TT_ERR_VERSION",     "TT_ERR_MISMATCH", "TT_ERR_NOT_FOUND",
    "TT_ERR_CANCELLED",
    "TT_ERR_AGAIN",
};

const char *tt_status_name(tt_status st) {
    if ((unsigned)st >= TT_STATUS_COUNT) return "TT_ERR_UNKNOWN";
    return tt_names[st];
}

const char *tt_last_error(void) { return tt_msg; }

void tt_clear_error(void) { tt_msg[0] = '\0'; }

tt_status tt_error(tt_status st, const char *fmt, ...) {
    /* Formatted aside first, so callers may pass tt_last_error() as an
     * argument to add context in front of a deeper message. */
    char buf[sizeof tt_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(tt_msg, buf, sizeof tt_msg);
    return st;
}
