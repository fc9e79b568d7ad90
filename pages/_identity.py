"""Who is using this session and what they may do: the identity mode, the actor with its role, and
`can()` for the pages to ask before drawing a control.

Identity, in the order checked (docs/identity.md):
- `FEEDBACK_TRUSTED_HEADER` set: an authenticating proxy names the user in that request header;
- an `[auth]` table in the secrets: OpenID Connect sign-in through `st.login` / `st.user`;
- neither: local mode, one machine and one person, who is the admin and picks a name in the sidebar;
  served only to that machine (`data_layer.access`, checked first by `data_layer.gate`).
The role comes from the role rules (`data_layer.auth.RoleRules`); the data layer enforces it.
"""

from __future__ import annotations

import streamlit as st

from data_layer import access, auth, errors

DEFAULT_REVIEWER = "local-reviewer"


def mode() -> str:
    """How this dashboard knows its users: "proxy", "oidc" or "local"."""
    if auth.trusted_header():
        return "proxy"
    if st.secrets.load_if_toml_exists() and "auth" in st.secrets:
        return "oidc"
    return "local"


def refusal(how: str) -> str | None:
    """Why this session gets no page at all, asked again here after the server's gate (`data_layer.gate`)."""
    if how == "local":
        if access.flag(access.REQUIRE_SIGNIN_VARIABLE):
            return access.SIGNIN_REQUIRED
        host = st.context.headers.get("host")  # None only without a browser (AppTest)
        return None if host is None else access.local_mode_refusal(host)
    if how == "proxy":
        # Streamlit reports a loopback peer as None; a session without a browser (AppTest) has no peer.
        peer = st.context.ip_address
        return access.proxy_refusal(peer if isinstance(peer, str) else "127.0.0.1")
    return None


@st.cache_resource(ttl=60, show_spinner=False)
def role_rules() -> auth.RoleRules:
    roles = st.secrets.get("roles") if st.secrets.load_if_toml_exists() else None
    return auth.configured_roles(roles_table=None if roles is None else roles.to_dict())


def actor() -> auth.Actor | None:
    """Who is using this session, with their role; None when sign-in is required and not done.

    `InvalidInput` for an id the data layer refuses (a bad local name, a header value or subject
    outside the id alphabet).
    """
    how = mode()
    if how == "local":
        name = (st.session_state.get("reviewer") or DEFAULT_REVIEWER).strip() or DEFAULT_REVIEWER
        return auth.Actor(name, auth.LOCAL_ROLE)
    if how == "proxy":
        email = st.context.headers.get(auth.trusted_header())
        if not email or refusal(how):
            return None
        groups_header = auth.trusted_groups_header()
        groups = st.context.headers.get(groups_header, "") if groups_header else ""
        return auth.signed_in(None, email, groups, role_rules())
    if not st.user.get("is_logged_in"):
        return None
    return auth.signed_in(
        st.user.get("sub"),
        st.user.get("email"),
        st.user.get("groups") or (),
        role_rules(),
        email_verified=st.user.get("email_verified"),
    )


def reviewer() -> str:
    """The current user's id, stored as `owner_id` on their votes (local mode: the sidebar name)."""
    if mode() == "local":
        return (st.session_state.get("reviewer") or DEFAULT_REVIEWER).strip() or DEFAULT_REVIEWER
    current = actor()
    return current.user_id if current else ""


def reader() -> auth.Actor | None:
    """The actor the data layer is asked to read for: the current user, or None when nobody is signed in.

    A local name the data layer refuses still reads as the local admin: a read stores no name, so the
    page shows what there is, and only a write (with `actor()`) says why it cannot be saved.
    """
    try:
        return actor()
    except errors.InvalidInput:
        return auth.Actor(DEFAULT_REVIEWER, auth.LOCAL_ROLE) if mode() == "local" else None


def can(action: str, target: dict | None = None) -> bool:
    """Whether the current user may take `action` (on the vote `target`, when given): `auth.can`, asked
    before drawing a control; the data layer asks `auth.authorize` again on every call."""
    return auth.can(reader(), action, target)
