"""The whole token flow through a client generated from latchkey's
openapi.yaml with openapi-python-client, used as generated: log in, call
/api/me/ with the Bearer token, refresh, verify, log out, and see the 401s
that follow. Then, as the application's backend, the admin flow: create a
user with a group and claims, log in as them, read the claims from the
access token and /api/me/, change the password, see the other session end,
list, change and delete the user.

    python3 flow.py BASE_URL USERNAME PASSWORD ADMIN_ID ADMIN_SECRET GROUP
    (latchkey_client importable; GROUP an existing group;
    jwt.user_claims = ["username", "groups", "claims"])
"""

import base64
import json
import sys
import uuid

from latchkey_client import AuthenticatedClient, Client
from latchkey_client.api.admin import (
    admin_users_create,
    admin_users_destroy,
    admin_users_list,
    admin_users_partial_update,
    admin_users_retrieve,
)
from latchkey_client.api.me import me_retrieve, password_change_create
from latchkey_client.api.token import (
    token_blacklist_create,
    token_create,
    token_refresh_create,
    token_verify_create,
)
from latchkey_client.models import (
    AdminUser,
    BearerError,
    Detail,
    Empty,
    FieldErrors,
    PasswordChange,
    TokenBlacklist,
    TokenError,
    TokenObtainPair,
    TokenObtainPairForm,
    TokenObtainPairResponse,
    TokenRefresh,
    TokenRefreshResponse,
    TokenVerify,
    User,
    UserCreate,
    UserCreateClaims,
    UserPage,
    UserUpdate,
)


def expect(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"generated Python client: {what}")
    print(f"ok: {what}")


def token_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def admin_flow(base_url: str, admin_id: str, admin_secret: str, group: str) -> None:
    client = Client(base_url=base_url, raise_on_unexpected_status=True)
    credentials = base64.b64encode(f"{admin_id}:{admin_secret}".encode()).decode()
    admin = AuthenticatedClient(base_url=base_url, token=credentials, prefix="Basic",
                                raise_on_unexpected_status=True)
    anonymous = admin_users_list.sync_detailed(client=AuthenticatedClient(
        base_url=base_url, token="bm9ib2R5Om5vdGhpbmc=", prefix="Basic", raise_on_unexpected_status=True))
    expect(anonymous.status_code == 401 and isinstance(anonymous.parsed, Detail)
           and anonymous.headers.get("www-authenticate") == 'Basic realm="api"',
           "the admin API refuses wrong client credentials")

    username = f"flow-{uuid.uuid4().hex[:12]}"
    password = "a generated client's passphrase"
    claims = UserCreateClaims()
    claims.additional_properties = {"tenant": "acme", "plan": "pro"}
    created = admin_users_create.sync_detailed(client=admin, body=UserCreate(
        username=username, password=password, email=f"{username}@example.com",
        groups=[group], claims=claims))
    expect(created.status_code == 201 and isinstance(created.parsed, AdminUser)
           and created.parsed.groups == [group], "admin: create a user with a group and claims")
    user_id = created.parsed.id
    taken = admin_users_create.sync_detailed(client=admin, body=UserCreate(username=username))
    expect(taken.status_code == 400 and isinstance(taken.parsed, FieldErrors)
           and taken.parsed.additional_properties == {"username": ["A user with that username already exists."]},
           "admin: a taken username is a field error")

    login = token_create.sync_detailed(client=client, body=TokenObtainPair(username=username, password=password))
    expect(login.status_code == 200 and isinstance(login.parsed, TokenObtainPairResponse), "log in as the new user")
    claims_read = token_claims(login.parsed.access)
    expect(claims_read.get("groups") == [group] and claims_read.get("tenant") == "acme"
           and claims_read.get("username") == username, "the access token carries groups and claims")
    caller = AuthenticatedClient(base_url=base_url, token=login.parsed.access, raise_on_unexpected_status=True)
    me = me_retrieve.sync_detailed(client=caller)
    expect(me.status_code == 200 and isinstance(me.parsed, User)
           and me.parsed.claims.additional_properties == {"tenant": "acme", "plan": "pro"},
           "GET /api/me/ shows the claims")

    other = token_create.sync_detailed(client=client, body=TokenObtainPair(username=username, password=password))
    expect(other.status_code == 200 and isinstance(other.parsed, TokenObtainPairResponse), "log in on a second device")
    new_password = "another generated passphrase"
    changed = password_change_create.sync_detailed(client=caller, body=PasswordChange(
        old_password=password, new_password1=new_password, new_password2=new_password))
    expect(changed.status_code == 200 and isinstance(changed.parsed, Detail)
           and changed.parsed.detail == "New password has been saved.", "change the password")
    ended = me_retrieve.sync_detailed(client=AuthenticatedClient(
        base_url=base_url, token=other.parsed.access, raise_on_unexpected_status=True))
    expect(ended.status_code == 401 and isinstance(ended.parsed, BearerError),
           "the other session ended with the password change")
    kept = me_retrieve.sync_detailed(client=caller)
    expect(kept.status_code == 200, "the caller's session goes on")

    page = admin_users_list.sync_detailed(client=admin, username=username, limit=10)
    expect(page.status_code == 200 and isinstance(page.parsed, UserPage) and page.parsed.count == 1
           and page.parsed.results[0].id == user_id, "admin: list with a filter")
    patched = admin_users_partial_update.sync_detailed(
        user_id, client=admin, body=UserUpdate(first_name="Flow", is_staff=True), end_sessions=True)
    expect(patched.status_code == 200 and isinstance(patched.parsed, AdminUser)
           and patched.parsed.first_name == "Flow" and patched.parsed.is_staff, "admin: change a user")
    after_patch = me_retrieve.sync_detailed(client=caller)
    expect(after_patch.status_code == 401, "end_sessions=true ended the caller's session too")
    deleted = admin_users_destroy.sync_detailed(user_id, client=admin)
    expect(deleted.status_code == 204, "admin: delete the user")
    gone = admin_users_retrieve.sync_detailed(user_id, client=admin)
    expect(gone.status_code == 404 and isinstance(gone.parsed, Detail), "admin: a deleted user is not found")


def main() -> None:
    base_url, username, password, admin_id, admin_secret, group = sys.argv[1:7]
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


    admin_flow(base_url, admin_id, admin_secret, group)


if __name__ == "__main__":
    main()
