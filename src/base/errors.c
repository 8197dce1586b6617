#include "weir/errors.h"

#include <string.h>

const char *weir_strerror(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case 0:
        return "ok";
    case WEIR_EINVAL:
        return "invalid input";
    case WEIR_ENOTFOUND:
        return "not found";
    case WEIR_EEXIST:
        return "already exists";
    case WEIR_EFULL:
        return "capacity reached";
    case WEIR_EPERM:
        return "not permitted";
    case WEIR_EAUTH:
        return "authentication failed";
    case WEIR_ETOOBIG:
        return "too large";
    case WEIR_ERATE:
        return "rate limited";
    case WEIR_EUNSUPPORTED:
        return "not supported";
    case WEIR_EAGAIN:
        return "try again";
    case WEIR_EIO:
        return "i/o error";
    default:
        return strerror(err); /* an errno value */
    }
}
