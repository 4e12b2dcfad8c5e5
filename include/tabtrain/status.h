/* tabtrain/status.h — errors as values.
 *
 * Every fallible tabtrain function returns a tt_status. TT_OK is zero, so
 * `if (st) return st;` propagates. Alongside the code, the failing function
 * records a human-readable message (what failed and where: file name, tensor
 * name, byte offset...) in a thread-local buffer, read with tt_last_error().
 * The message stays until the next error overwrites it or tt_clear_error().
 *
 * Library code never calls exit() or abort() on bad input: a corrupt file, a
 * wrong shape or an exhausted arena is a status, never a crash.
 */
#ifndef TABTRAIN_STATUS_H
#define TABTRAIN_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tt_status {
    TT_OK = 0,
    TT_ERR_INVALID_ARG,  /* caller passed something out of contract */
    TT_ERR_NOMEM,        /* malloc or an arena ran out */
    TT_ERR_IO,           /* open/read/write/rename/fsync failed */
    TT_ERR_FORMAT,       /* bytes are not the format they claim to be */
    TT_ERR_CORRUPT,      /* format is right but a checksum or bound fails */
    TT_ERR_SHAPE,        /* tensor shape disagrees with the architecture */
    TT_ERR_UNSUPPORTED,  /* valid but not something we handle (e.g. dtype) */
    TT_ERR_LIMIT,        /* exceeds a configured limit (pixels, header size) */
    TT_ERR_VERSION,      /* written by a newer format version */
    TT_ERR_MISMATCH,     /* belongs to another backbone / class list */
    TT_ERR_NOT_FOUND,    /* a named file or tensor does not exist */
    TT_ERR_CANCELLED,    /* the caller asked to stop */
    TT_ERR_AGAIN,        /* not at hand yet: it was asked for; call again once it is given */
    TT_STATUS_COUNT
} tt_status;

/* Short stable name of a code, e.g. "TT_ERR_CORRUPT". */
const char *tt_status_name(tt_status st);

/* Message of the most recent error on this thread ("" if none). */
const char *tt_last_error(void);

/* Record a printf-style message and return `st` unchanged, so that
 * `return tt_error(TT_ERR_IO, "cannot open %s", path);` reads naturally.
 * tt_last_error() may be an argument: `tt_error(st, "%s: %s", path,
 * tt_last_error())` puts context in front of a deeper message. */
tt_status tt_error(tt_status st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

void tt_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
