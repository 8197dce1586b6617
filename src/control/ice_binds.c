#include "control/ice_binds.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "weir/alloc.h"
#include "weir/errors.h"

typedef struct list {
    char **items;
    size_t n, cap;
} list;

static void push(list *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->items = weir_realloc(l->items, l->cap * sizeof *l->items);
    }
    char *copy = weir_malloc(len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    l->items[l->n++] = copy;
}

static bool is_literal(const char *s)
{
    struct in6_addr a6;
    struct in_addr a4;
    return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

/* The interface's usable addresses; how many were added. */
static size_t add_interface(list *l, const char *name)
{
    struct ifaddrs *all = NULL;
    if (getifaddrs(&all) < 0)
        return 0;
    size_t added = 0;
    for (struct ifaddrs *i = all; i; i = i->ifa_next) {
        if (!i->ifa_addr || strcmp(i->ifa_name, name) != 0)
            continue;
        char text[INET6_ADDRSTRLEN];
        if (i->ifa_addr->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, text, sizeof text);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct in6_addr *a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            if (IN6_IS_ADDR_LINKLOCAL(a))
                continue;
            inet_ntop(AF_INET6, a, text, sizeof text);
        } else {
            continue;
        }
        push(l, text, strlen(text));
        added++;
    }
    freeifaddrs(all);
    return added;
}

int weir_ice_binds_parse(const char *text, char ***out, size_t *n, char *err, size_t errlen)
{
    list l = {0};
    const char *sep = ", \t";
    for (const char *q = text ? text : ""; *q;) {
        q += strspn(q, sep);
        size_t len = strcspn(q, sep);
        if (!len)
            break;
        char token[IF_NAMESIZE + INET6_ADDRSTRLEN];
        if (len >= sizeof token) {
            snprintf(err, errlen, "[media] ice_bind_addresses: \"%.*s\" is too long", (int)len, q);
            weir_ice_binds_free(l.items, l.n);
            return -WEIR_EINVAL;
        }
        memcpy(token, q, len);
        token[len] = '\0';
        if (is_literal(token)) {
            push(&l, token, len);
        } else if (add_interface(&l, token) == 0) {
            snprintf(err, errlen,
                     "[media] ice_bind_addresses: \"%s\" is neither an IP address nor an "
                     "interface with an address",
                     token);
            weir_ice_binds_free(l.items, l.n);
            return -WEIR_EINVAL;
        }
        q += len;
    }
    *out = l.items;
    *n = l.n;
    return 0;
}

void weir_ice_binds_free(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        weir_free(items[i]);
    weir_free(items);
}
