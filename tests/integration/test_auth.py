"""Join tokens: HS256 JWTs minted by `weir token` and by Python's hmac
(proving the two interoperate), and the 401/403 answers around them."""

import time

import pytest

from conftest import (TEST_SECRET, VALID_OFFER_SDP, ServerFactory, connect, decode_token,
                      mint_token, run_weir, unique_room, weir_bin, assert_no_sanitizer)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    factory = ServerFactory(weir_bin(), lambda: str(tmp_path_factory.mktemp("weir-auth")))
    srv = factory({"auth": {"secret": TEST_SECRET}})
    yield srv
    factory.teardown()


def cli_token(*args, secret=TEST_SECRET):
    extra = ["--secret", secret] if secret is not None else []
    p = run_weir("token", *extra, *args)
    assert_no_sanitizer(p.stderr, "weir token")
    assert p.returncode == 0, (p.returncode, p.stderr)
    token = p.stdout.strip()
    assert token.count(".") == 2, p.stdout
    return token


async def join_error(srv, params):
    c = await connect(srv)
    err = await c.error("join", params)
    # a failed join leaves the socket usable and not in a room
    err2 = await c.error("leave")
    assert err2["code"] == 409, err2
    return err


# ---------------------------------------------------------------- good tokens

async def test_cli_token_verifies_in_python_and_joins(auth_server):
    room = unique_room()
    before = int(time.time())
    token = cli_token("--room", room, "--sub", "teacher-1", "--role", "teacher",
                      "--name", "Ms Tee", "--ttl", "600")
    header, claims = decode_token(token, secret=TEST_SECRET)  # signature checked in Python
    assert header["alg"] == "HS256"
    assert claims["room"] == room
    assert claims["sub"] == "teacher-1"
    assert claims["role"] == "teacher"
    assert claims["name"] == "Ms Tee"
    assert before + 600 - 5 <= claims["exp"] <= int(time.time()) + 600 + 5

    c = await connect(auth_server)
    result = await c.call("join", {"room": room, "token": token})
    assert result["participant"]["role"] == "teacher"
    assert result["participant"]["display"] == "Ms Tee"


async def test_python_minted_token_joins(auth_server):
    room = unique_room()
    for role in ("teacher", "student", "observer", "recorder"):
        token = mint_token(room=room, sub=f"u-{role}", role=role, name=f"The {role}")
        c = await connect(auth_server, role)
        result = await c.call("join", {"room": room, "token": token})
        assert result["participant"]["role"] == role
        assert result["participant"]["display"] == f"The {role}"


async def test_role_comes_from_token_not_params(auth_server):
    room = unique_room()
    token = mint_token(room=room, sub="s1", role="student", name="Sam")
    c = await connect(auth_server)
    result = await c.call("join", {"room": room, "token": token, "role": "teacher",
                                   "display": "Impostor"})
    assert result["participant"]["role"] == "student"
    assert result["participant"]["display"] == "Sam"
    err = await c.error("moderate", {"action": "kick", "participant": "anyone"})
    assert err["code"] == 403, err


async def test_display_param_used_when_token_has_no_name(auth_server):
    room = unique_room()
    token = mint_token(room=room, sub="s2", role="student")
    c = await connect(auth_server)
    result = await c.call("join", {"room": room, "token": token, "display": "From Params"})
    assert result["participant"]["display"] == "From Params"


async def test_token_without_typ_and_with_extra_claims_joins(auth_server):
    room = unique_room()
    now = int(time.time())
    token = mint_token(room=room, header={"alg": "HS256"}, iat=now, iss="my-app",
                       nbf=now - 10, aud="weir", sub="x1", role="observer")
    c = await connect(auth_server)
    assert (await c.call("join", {"room": room, "token": token}))["participant"]["role"] == \
        "observer"


async def test_expiry_within_leeway_is_accepted(auth_server):
    room = unique_room()
    token = mint_token(room=room, exp=int(time.time()) - 5)  # leeway_s defaults to 30
    c = await connect(auth_server)
    assert (await c.call("join", {"room": room, "token": token}))["participant"]["id"]


async def test_cli_token_uses_config_secret(auth_server):
    room = unique_room()
    p = run_weir("token", "-c", auth_server.config_path, "--room", room, "--sub", "x",
                 "--role", "observer")
    assert p.returncode == 0, p.stderr
    token = p.stdout.strip()
    decode_token(token, secret=TEST_SECRET)
    c = await connect(auth_server)
    assert (await c.call("join", {"room": room, "token": token}))["participant"]["role"] == "observer"


# ---------------------------------------------------------------- 401s

def _bad_tokens(room):
    now = int(time.time())
    good = mint_token(room=room)
    h, p, s = good.split(".")
    flipped = s[:-2] + ("AA" if s[-2:] != "AA" else "BB")
    tampered_claims = mint_token(room=room, role="teacher").split(".")[1]
    return {
        "expired": mint_token(room=room, exp=now - 3600),
        "not-yet-valid": mint_token(room=room, nbf=now + 3600),
        "bad-signature": f"{h}.{p}.{flipped}",
        "other-secret": mint_token(secret="another-secret-of-enough-length", room=room),
        "tampered-claims": f"{h}.{tampered_claims}.{s}",
        "alg-none": mint_token(room=room, header={"alg": "none", "typ": "JWT"}, sign=False),
        "alg-none-with-sig": mint_token(room=room, header={"alg": "none", "typ": "JWT"}),
        "alg-hs512": mint_token(room=room, header={"alg": "HS512", "typ": "JWT"}),
        "other-room": mint_token(room=room + "-other"),
        "bad-role": mint_token(room=room, role="admin"),
        "no-exp": mint_token(room=room, exp=None),
        "no-sub": mint_token(room=room, sub=None),
        "no-room": mint_token(room=None),
        "exp-as-string": mint_token(room=room, exp=str(now + 3600)),
        "garbage": "not-a-jwt",
        "two-parts": f"{h}.{p}",
        "empty": "",
    }


@pytest.mark.parametrize("kind", ["expired", "not-yet-valid", "bad-signature", "other-secret",
                                  "tampered-claims", "alg-none", "alg-none-with-sig", "alg-hs512",
                                  "other-room", "bad-role", "no-exp", "no-sub", "no-room",
                                  "exp-as-string", "garbage",
                                  "two-parts", "empty"])
async def test_bad_token_is_401(auth_server, kind):
    room = unique_room()
    token = _bad_tokens(room)[kind]
    err = await join_error(auth_server, {"room": room, "token": token})
    assert err["code"] == 401, (kind, err)


async def test_missing_token_is_401(auth_server):
    err = await join_error(auth_server, {"room": unique_room(), "display": "no token"})
    assert err["code"] == 401, err


async def test_role_param_does_not_bypass_auth(auth_server):
    err = await join_error(auth_server, {"room": unique_room(), "role": "teacher"})
    assert err["code"] == 401, err


async def test_socket_usable_after_401(auth_server):
    room = unique_room()
    c = await connect(auth_server)
    err = await c.error("join", {"room": room, "token": mint_token(room=room, exp=1)})
    assert err["code"] == 401
    result = await c.call("join", {"room": room, "token": mint_token(room=room, sub="ok")})
    assert result["participant"]["role"] == "student"


# ---------------------------------------------------------------- 403s

async def test_observer_publish_is_403(auth_server):
    room = unique_room()
    c = await connect(auth_server)
    await c.call("join", {"room": room, "token": mint_token(room=room, role="observer")})
    err = await c.error("publish", {"sdp": VALID_OFFER_SDP})
    assert err["code"] == 403, err


async def test_student_moderate_is_403(auth_server):
    room = unique_room()
    t = await connect(auth_server, "teacher")
    await t.join(room, token=mint_token(room=room, sub="t", role="teacher", name="T"))
    s = await connect(auth_server, "student")
    await s.join(room, token=mint_token(room=room, sub="s", role="student", name="S"))
    err = await s.error("moderate", {"action": "kick", "participant": t.id})
    assert err["code"] == 403, err
    await t.no_notification("bye")
    # the teacher, though, may
    assert await t.call("moderate", {"action": "kick", "participant": s.id}) == {}
    assert (await s.next_notification("bye"))["params"]["reason"] == "kicked"
