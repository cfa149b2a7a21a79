"""The password flow through the Python client generated from the committed spec
(openapi-python-client): register, sign in, GET /user, refresh, sign out (the access
token is refused afterwards), then the back office with the flock API key (the
`X-Api-Key` scheme) finds the new user.

    python3 flow.py <base-url> <flock> <flock-api-key>
"""

import sys
import uuid

from fold_client import AuthenticatedClient, Client
from fold_client.api.directory import users_search
from fold_client.api.sessions import refresh_token
from fold_client.api.user import get_current_user, register, sign_in, sign_out
from fold_client.models import (
    ErrorBody,
    ProfileView,
    RefreshRequest,
    Registration,
    RegisterRequest,
    SessionView,
    SignInRequest,
    UserPage,
)


def main(base: str, flock: str, api_key: str) -> None:
    public = Client(base_url=base, raise_on_unexpected_status=True)
    email = f"py-{uuid.uuid4().hex}@example.com"
    password = "correct horse battery staple"

    reg = register.sync(
        flock,
        client=public,
        body=RegisterRequest(email=email, password=password, terms_accepted=True),
    )
    assert isinstance(reg, Registration), reg
    print(f"python: registered {reg.user_id} ({reg.status.value})")

    session = sign_in.sync(flock, client=public, body=SignInRequest(email=email, password=password))
    assert isinstance(session, SessionView), session
    print(f"python: signed in, session {session.session_id} ({session.token_type.value})")

    def bearer(token: str) -> AuthenticatedClient:
        return AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)

    me = get_current_user.sync(flock, client=bearer(session.access_token))
    assert isinstance(me, ProfileView) and me.email == email, me
    print(f"python: GET /user is {me.email} ({me.status.value}, {me.role.value})")

    renewed = refresh_token.sync(
        flock, client=public, body=RefreshRequest(refresh_token=session.refresh_token)
    )
    assert isinstance(renewed, SessionView), renewed
    assert renewed.refresh_token != session.refresh_token
    print("python: refreshed")

    out = sign_out.sync(flock, client=bearer(renewed.access_token))
    assert not isinstance(out, ErrorBody), out
    after = get_current_user.sync_detailed(flock, client=bearer(renewed.access_token))
    assert after.status_code == 401, after.status_code
    assert isinstance(after.parsed, ErrorBody)
    print(f"python: signed out; the access token is refused (401 {after.parsed.code})")

    # The flock's API key is an apiKey scheme in the X-Api-Key header.
    office = AuthenticatedClient(
        base_url=base, token=api_key, prefix="", auth_header_name="X-Api-Key"
    )
    page = users_search.sync(flock, client=office, email=email)
    assert isinstance(page, UserPage), page
    assert [u.email for u in page.users] == [email], page
    print(f"python: the back office finds {email} with the API key")
    print("python: flow ok")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3])
