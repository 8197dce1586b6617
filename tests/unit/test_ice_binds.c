#include <criterion/criterion.h>
#include <string.h>

#include "control/ice_binds.h"
#include "weir/errors.h"

Test(ice_binds, literals_and_separators)
{
    char **list = NULL;
    size_t n = 0;
    char err[160] = "";
    cr_assert_eq(weir_ice_binds_parse(" 127.0.0.1, ::1\t10.0.0.2 ", &list, &n, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(list[0], "127.0.0.1");
    cr_expect_str_eq(list[1], "::1");
    cr_expect_str_eq(list[2], "10.0.0.2");
    weir_ice_binds_free(list, n);
    cr_assert_eq(weir_ice_binds_parse("", &list, &n, err, sizeof err), 0);
    cr_expect_eq(n, 0);
    weir_ice_binds_free(list, n);
}

Test(ice_binds, interface_name_expands_to_its_addresses)
{
    char **list = NULL;
    size_t n = 0;
    char err[160] = "";
    cr_assert_eq(weir_ice_binds_parse("lo", &list, &n, err, sizeof err), 0, "%s", err);
    bool v4 = false;
    for (size_t i = 0; i < n; i++)
        v4 |= strcmp(list[i], "127.0.0.1") == 0;
    cr_expect(v4, "lo did not give 127.0.0.1");
    weir_ice_binds_free(list, n);
}

Test(ice_binds, unknown_name_is_a_clear_error)
{
    char **list = (char **)1;
    size_t n = 7;
    char err[160] = "";
    cr_assert_eq(weir_ice_binds_parse("127.0.0.1, nosuchif0", &list, &n, err, sizeof err),
                 -WEIR_EINVAL);
    cr_expect(strstr(err, "nosuchif0") && strstr(err, "interface"), "%s", err);
    cr_expect_eq(n, 7); /* outputs untouched */
}
