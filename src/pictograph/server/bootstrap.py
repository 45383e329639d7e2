"""First start: an empty database gets an organization, its owner and an owner API key.

The key is printed once and written, with the base URL, to the client config file so that
``Client()`` and the CLI work straight away. ``PICTOGRAPH_BOOTSTRAP_API_KEY`` chooses the key
(scripts, containers); otherwise a random one is generated. Only the bcrypt hash is stored.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pictograph.config_file import write_config
from pictograph.server import security
from pictograph.server.context import ServerContext
from pictograph.server.db.tables import ApiKey, Membership, Organization, User
from pictograph.server.ratelimit import tier_limit
from pictograph.server.services import credits

logger = logging.getLogger("pictograph.server")

OWNER_EMAIL = "owner@localhost"


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "org"


def bootstrap(ctx: ServerContext) -> str | None:
    """Create the first organization and owner key if there is none; return the new key."""
    settings = ctx.settings
    raw_key = settings.bootstrap_api_key or security.generate_api_key()
    if not security.is_well_formed(raw_key):
        raise ValueError("PICTOGRAPH_BOOTSTRAP_API_KEY must start with 'pk_live_' and be 24+ characters")
    try:
        with ctx.db.session() as session:
            if session.scalar(select(Organization.id).limit(1)) is not None:
                return None
            org = Organization(
                name=settings.bootstrap_org_name,
                slug=slugify(settings.bootstrap_org_name),
                subscription_tier=settings.default_tier,
                credits_monthly_allowance=settings.default_credit_allowance,
                max_images=0,
                max_storage_bytes=0,
            )
            owner = User(email=OWNER_EMAIL, full_name="Owner")
            session.add_all([org, owner])
            session.flush()
            session.add(Membership(organization_id=org.id, user_id=owner.id, role="owner"))
            session.add(
                ApiKey(
                    organization_id=org.id,
                    name="bootstrap owner key",
                    key_prefix=security.key_prefix(raw_key),
                    key_hash=security.hash_api_key(raw_key, settings.bcrypt_rounds),
                    role="owner",
                    rate_limit=tier_limit(settings.default_tier),
                )
            )
            session.flush()
            credits.renew_allowance(session, org.id)
    except IntegrityError:
        # Another replica bootstrapped the same database at the same moment.
        return None
    if settings.write_client_config:
        path = write_config(api_key=raw_key, base_url=settings.base_url)
        logger.warning("Owner API key written to %s", path)
    if not settings.bootstrap_api_key:
        print(f"Pictograph owner API key (shown once): {raw_key}", flush=True)
    return raw_key
