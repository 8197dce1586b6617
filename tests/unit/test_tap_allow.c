/* The taps allowlist (control/tap_allow.h): CIDR parsing, matching, refusals. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "control/tap_allow.h"
#include "weir/errors.h"

static bool allowed(const char *list, const char *host)
{
    weir_tap_allow a;
    cr_assert_eq(weir_tap_allow_parse(list, &a, NULL, 0), 0, "list %s", list);
    weir_tap_addr addr;
    cr_assert_eq(weir_tap_addr_parse(host, &addr), 0, "host %s", host);
    return weir_tap_allow_match(&a, &addr);
}

Test(tap_allow, default_list_is_loopback_only)
{
    static const char *def = "127.0.0.0/8, ::1";
    struct {
        const char *host;
        bool ok;
    } rows[] = {
        {"127.0.0.1", true},
        {"127.255.255.254", true},
        {"::1", true},
        {"::ffff:127.0.0.1", true}, /* mapped: checked as the IPv4 it carries */
        {"10.1.2.3", false},
        {"128.0.0.1", false},
        {"126.255.255.255", false},
        {"::2", false},
        {"::ffff:10.1.2.3", false},
        {"0.0.0.0", false},
        {"fe80::1", false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_expect_eq(allowed(def, rows[i].host), rows[i].ok, "host %s", rows[i].host);
}

Test(tap_allow, prefixes_of_any_length)
{
    struct {
        const char *list, *host;
        bool ok;
    } rows[] = {
        {"192.168.10.0/24", "192.168.10.77", true},
        {"192.168.10.0/24", "192.168.11.1", false},
        {"10.0.0.0/9", "10.127.1.1", true},
        {"10.0.0.0/9", "10.128.0.1", false},
        {"10.1.2.3", "10.1.2.3", true}, /* a bare address is one host */
        {"10.1.2.3", "10.1.2.4", false},
        {"0.0.0.0/0", "203.0.113.9", true},
        {"0.0.0.0/0", "2001:db8::1", false}, /* families never match each other */
        {"2001:db8::/32", "2001:db8:ffff::1", true},
        {"2001:db8::/33", "2001:db8:8000::1", false},
        {"", "127.0.0.1", false}, /* empty list: nothing allowed */
        {"  10.0.0.0/8 ,, 127.0.0.1\t", "127.0.0.1", true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_expect_eq(allowed(rows[i].list, rows[i].host), rows[i].ok, "%s in [%s]", rows[i].host,
                     rows[i].list);
}

Test(tap_allow, bad_lists_are_refused_and_leave_output_alone)
{
    const char *bad[] = {
        "10.0.0.1/8",          /* host bits under the prefix */
        "10.0.0.0/33",         /* prefix too long */
        "::/129",              /* likewise for IPv6 */
        "10.0.0.0/",           /* no length */
        "10.0.0.0/8x",         /* not a number */
        "10.0.0.0/-1",         /* signed */
        "localhost",           /* names are not addresses */
        "10.0.0.0/8 bogus",    /* one bad entry spoils the list */
        "::ffff:10.0.0.0/104", /* write the IPv4 network instead */
        "/8",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        weir_tap_allow a = {.n = 99};
        char err[160] = "";
        cr_expect_eq(weir_tap_allow_parse(bad[i], &a, err, sizeof err), -WEIR_EINVAL, "%s", bad[i]);
        cr_expect_eq(a.n, 99, "output changed for %s", bad[i]);
        cr_expect(strlen(err) > 0, "no message for %s", bad[i]);
    }
}

Test(tap_allow, too_many_entries)
{
    char list[64 * 16 + 32] = "";
    for (int i = 0; i <= WEIR_TAP_ALLOW_MAX; i++) {
        char one[24];
        snprintf(one, sizeof one, "10.0.%d.0/24,", i);
        strcat(list, one);
    }
    weir_tap_allow a;
    char err[160];
    cr_expect_eq(weir_tap_allow_parse(list, &a, err, sizeof err), -WEIR_EINVAL);
    cr_expect(strstr(err, "more than") != NULL, "%s", err);
}

Test(tap_allow, addresses)
{
    weir_tap_addr a = {.family = 77};
    const char *bad[] = {
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "fe80::1%eth0", "example.com", " 1.2.3.4"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(weir_tap_addr_parse(bad[i], &a), -WEIR_EINVAL, "%s", bad[i]);
        cr_expect_eq(a.family, 77);
    }
    cr_expect_eq(weir_tap_addr_parse(NULL, &a), -WEIR_EINVAL);
    char buf[64];
    cr_assert_eq(weir_tap_addr_parse("::ffff:192.0.2.1", &a), 0);
    cr_expect_eq(a.family, 4);
    cr_expect_str_eq(weir_tap_addr_format(&a, buf, sizeof buf), "192.0.2.1");
    cr_assert_eq(weir_tap_addr_parse("2001:DB8::0:1", &a), 0);
    cr_expect_str_eq(weir_tap_addr_format(&a, buf, sizeof buf), "2001:db8::1");
}
