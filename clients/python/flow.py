"""The whole token flow through a client generated from latchkey's
openapi.yaml with openapi-python-client, used as generated: log in, call
/api/me/ with the Bearer token, refresh, verify, log out, and see the 401s
that follow.

    python3 flow.py BASE_URL USERNAME PASSWORD     (latchkey_client importable)
"""

import sys

from latchkey_client import AuthenticatedClient, Client
from latchkey_client.api.me import me_retrieve
from latchkey_client.api.token import (
    token_blacklist_create,
    token_create,
    token_refresh_create,
    token_verify_create,
)
from latchkey_client.models import (
    BearerError,
    Empty,
    TokenBlacklist,
    TokenError,
    TokenObtainPair,
    TokenObtainPairForm,
    TokenObtainPairResponse,
    TokenRefresh,
    TokenRefreshResponse,
    TokenVerify,
    User,
)


def expect(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"generated Python client: {what}")
    print(f"ok: {what}")


def main() -> None:
    base_url, username, password = sys.argv[1:4]
    client = Client(base_url=base_url, raise_on_unexpected_status=True)

    login = token_create.sync_detailed(
        client=client, body=TokenObtainPair(username=username, password=password)
    )
    expect(login.status_code == 200 and isinstance(login.parsed, TokenObtainPairResponse), "log in")
    pair = login.parsed
    form_login = token_create.sync_detailed(
        client=client, body=TokenObtainPairForm(username=username, password=password)
    )
    expect(form_login.status_code == 200 and isinstance(form_login.parsed, TokenObtainPairResponse),
           "log in with a form body")

    bearer = AuthenticatedClient(base_url=base_url, token=pair.access, raise_on_unexpected_status=True)
    me = me_retrieve.sync_detailed(client=bearer)
    expect(me.status_code == 200 and isinstance(me.parsed, User) and me.parsed.username == username,
           "GET /api/me/ with the Bearer token")

    refreshed = token_refresh_create.sync_detailed(client=client, body=TokenRefresh(refresh=pair.refresh))
    expect(refreshed.status_code == 200 and isinstance(refreshed.parsed, TokenRefreshResponse)
           and isinstance(refreshed.parsed.refresh, str), "refresh (rotated)")
    new = refreshed.parsed

    verified = token_verify_create.sync_detailed(client=client, body=TokenVerify(token=new.access))
    expect(verified.status_code == 200 and isinstance(verified.parsed, Empty), "verify")

    garbage = token_refresh_create.sync_detailed(client=client, body=TokenRefresh(refresh="not-a-token"))
    expect(garbage.status_code == 401 and isinstance(garbage.parsed, TokenError)
           and garbage.parsed.detail == "Token is invalid", "401 for a token that is not one")

    out = token_blacklist_create.sync_detailed(client=client, body=TokenBlacklist(refresh=new.refresh))
    expect(out.status_code == 200 and isinstance(out.parsed, Empty), "log out (blacklist)")
    after = me_retrieve.sync_detailed(
        client=AuthenticatedClient(base_url=base_url, token=new.access, raise_on_unexpected_status=True)
    )
    expect(after.status_code == 401 and isinstance(after.parsed, BearerError),
           "401 for the access token of a logged-out session")


if __name__ == "__main__":
    main()
