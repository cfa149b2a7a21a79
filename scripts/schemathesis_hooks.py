"""Schemathesis hooks for the second pass of scripts/schemathesis.sh: the operations that
end a session or the user (sign-out, delete the account, change the password, …) each get
a live token: the last one while it works, else a new user's, so every call is tested past
its authentication instead of the first one ending the session the rest would use."""

import json
import os
import urllib.error
import urllib.request
import uuid

import schemathesis

BASE = os.environ["FOLD_ST_BASE"]
PASSWORD = "correct horse battery staple"


def _post(path: str, body: dict) -> dict:
    req = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def _live(token: str) -> bool:
    req = urllib.request.Request(
        BASE + "/api/v1/acme/user", headers={"authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status == 200
    except urllib.error.HTTPError:
        return False


@schemathesis.auth(refresh_interval=None)
class FreshUser:
    """Before every call: the last token while its session and user live, else the token
    of a user registered now (registration and sign-in take their uniform time, so a new
    user only when the last one is gone)."""

    token = None

    def get(self, case, ctx):
        if FreshUser.token and _live(FreshUser.token):
            return FreshUser.token
        email = f"st-{uuid.uuid4().hex}@example.com"
        _post("/api/v1/acme/user/register",
              {"email": email, "password": PASSWORD, "terms_accepted": True})
        FreshUser.token = _post(
            "/api/v1/acme/user/auth", {"email": email, "password": PASSWORD}
        )["access_token"]
        return FreshUser.token

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
