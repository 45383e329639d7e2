"""``client.organizations``: the API key's own organization, its members and invites.

There is no organization argument: a key reaches only its own organization.
"""

from __future__ import annotations

from pictograph.client.resources import Resource, path_segment
from pictograph.models.organization import (
    InviteStatus,
    Organization,
    OrganizationInvite,
    OrganizationMember,
    OrganizationRole,
)

_PATH = "/api/v1/developer/organizations"


class Organizations(Resource):
    def me(self) -> Organization:
        body = self._transport.request("GET", f"{_PATH}/me")
        return self._parse(Organization, body["organization"])

    def list_members(self) -> list[OrganizationMember]:
        body = self._transport.request("GET", f"{_PATH}/members")
        return self._parse_list(OrganizationMember, body.get("members"))

    def update_member_role(
        self, member_id: str, *, role: OrganizationRole, idempotency_key: str | None = None
    ) -> OrganizationMember:
        """Change a member's role; ``member_id`` is the membership id from ``list_members``."""
        body = self._transport.request(
            "PATCH",
            f"{_PATH}/members/{path_segment(member_id)}",
            json={"role": role},
            idempotency_key=idempotency_key,
        )
        return self._parse(OrganizationMember, body["member"])

    def remove_member(self, member_id: str) -> None:
        """Revoke the membership; the user's account stays and can be invited again."""
        self._transport.request("DELETE", f"{_PATH}/members/{path_segment(member_id)}")

    def list_invites(self, *, status: InviteStatus | None = None) -> list[OrganizationInvite]:
        body = self._transport.request("GET", f"{_PATH}/invites", params={"status": status})
        return self._parse_list(OrganizationInvite, body.get("invites"))

    def invite(
        self,
        email: str,
        *,
        role: OrganizationRole = "member",
        expires_in_days: int = 7,
        idempotency_key: str | None = None,
    ) -> OrganizationInvite:
        """Invite ``email``; the returned invite's ``invite_url`` is the link to share."""
        body = self._transport.request(
            "POST",
            f"{_PATH}/invites",
            json={"email": email, "role": role, "expires_in_days": expires_in_days},
            idempotency_key=idempotency_key,
        )
        return self._parse(OrganizationInvite, body["invite"])

    def revoke_invite(self, invite_id: str) -> None:
        self._transport.request("DELETE", f"{_PATH}/invites/{path_segment(invite_id)}")
