/**
 * `[media] ice_bind_addresses`: the addresses ICE gathers host candidates
 * on, as the operator wrote them: IPv4/IPv6 literals and interface names
 * ("eth0"), separated by commas or white space. An interface stands for
 * its IPv4 and global IPv6 addresses at start-up (getifaddrs); link-local
 * IPv6 addresses are skipped (a browser cannot reach them without a scope).
 */
#ifndef WEIR_CONTROL_ICE_BINDS_H
#define WEIR_CONTROL_ICE_BINDS_H

#include <stddef.h>

/**
 * Expands list into *out (an array of *n strings; free with
 * weir_ice_binds_free). "" gives none. Returns 0, or -WEIR_EINVAL with a
 * reason in err for a name that is neither an address nor an interface
 * with an address (nothing allocated then).
 */
int weir_ice_binds_parse(const char *list, char ***out, size_t *n, char *err, size_t errlen);
void weir_ice_binds_free(char **list, size_t n);

#endif
