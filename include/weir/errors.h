/**
 * Weir error codes. Functions return 0 on success and a negative WEIR_E*
 * (or -errno) on failure; weir_strerror() names them.
 */
#ifndef WEIR_ERRORS_H
#define WEIR_ERRORS_H

enum {
    WEIR_EINVAL = 1000, /* malformed input */
    WEIR_ENOTFOUND,     /* no such room, track, participant */
    WEIR_EEXIST,        /* already there (already joined, room exists) */
    WEIR_EFULL,         /* capacity reached */
    WEIR_EPERM,         /* role or policy forbids it */
    WEIR_EAUTH,         /* missing or invalid credentials */
    WEIR_ETOOBIG,       /* over a size limit */
    WEIR_ERATE,         /* rate limited */
    WEIR_EUNSUPPORTED,  /* recognised but not available in this build */
    WEIR_EAGAIN,        /* queue full, try later */
    WEIR_EIO,           /* system call failed */
};

/** Static string for a (negative or positive) WEIR_E* or errno code. */
const char *weir_strerror(int err);

#endif
