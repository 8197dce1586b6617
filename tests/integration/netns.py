"""Private network namespaces for the end-to-end tests.

Chromium and aioice prefer (or only use) non-loopback interfaces, and
libnice skips loopback when it enumerates. So the tests that run third-party
WebRTC stacks come in pairs: an outer test re-runs its own file inside
`unshare -n` with WEIR_TEST_IN_NETNS=1 and `-k inner`, where the only
addresses are loopback ones (127.0.0.1 for Weir, 127.0.0.2 for the peers).
Nothing is ever sent outside 127.0.0.0/8. Outside the namespace the inner
tests are deselected (conftest.py).
"""
import os
import shutil
import subprocess
import sys

import pytest

IN_NETNS = os.environ.get("WEIR_TEST_IN_NETNS") == "1"

# lo up, then a second loopback address for the peers: on a dummy interface when
# the kernel has the module, else on lo itself (both keep everything on 127/8).
NETNS_SETUP = (
    "ip link set lo up && "
    "{ { ip link add d0 type dummy 2>/dev/null && ip addr add 127.0.0.2/8 dev d0 && "
    "ip link set d0 up; } || ip addr add 127.0.0.2/8 dev lo; }"
)


def namespace_missing():
    """[] when this machine can make the namespace, else what it lacks."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return ["root, unshare and ip (iproute2) for a private network namespace"]
    return []


def run_inner_in_netns(test_file, timeout=240, missing=()):
    """Runs the tests named *inner* of test_file inside a fresh network
    namespace and asserts they passed. missing: what else the tests need
    and this machine lacks (sentences); the test is skipped then."""
    lacks = namespace_missing() + list(missing)
    if lacks:
        pytest.skip("needs " + "; ".join(lacks))
    env = dict(os.environ, WEIR_TEST_IN_NETNS="1")
    cmd = ["unshare", "-n", "sh", "-c",
           NETNS_SETUP + ' && exec "$0" -m pytest -q -s -rs -p no:cacheprovider -k inner "$1"',
           sys.executable, os.path.abspath(test_file)]
    r = subprocess.run(cmd, env=env, cwd=os.path.dirname(os.path.abspath(test_file)),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    out = r.stdout.decode(errors="replace")
    print(out[-20000:])
    assert r.returncode == 0, f"inner run failed (rc={r.returncode}):\n{out[-20000:]}"
    assert " passed" in out and " failed" not in out, out[-20000:]
