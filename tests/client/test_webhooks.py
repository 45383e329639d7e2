"""``client.webhooks`` against the live server, and ``pictograph.webhooks`` for receivers.

Deliveries go to a real receiver on 127.0.0.1 in this process (the server tests' Receiver).
The module's webhooks live in an organization of their own, so no other test's events
reach them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pictograph import Client
from pictograph.exceptions import ForbiddenError, NotFoundError, ValidationError
from pictograph.models.webhook import Webhook, WebhookDelivery
from pictograph.webhooks import sign, verify_signature
from tests.live_server import LiveServer
from tests.server.helpers import add_key
from tests.webhook_receiver import Receiver

SECRET = "my-receivers-secret-0123456789"


@pytest.fixture(scope="module")
def sdk(live_server: LiveServer) -> Iterator[Client]:
    """The owner of a new organization."""
    key = add_key(live_server, "owner", new_org=True)
    with Client(api_key=key, base_url=live_server.base_url) as client:
        yield client


@pytest.fixture(scope="module")
def member(live_server: LiveServer, sdk: Client) -> Iterator[Client]:
    """A member of ``sdk``'s organization."""
    created = sdk.api_keys.create(sdk.organizations.me().id, "webhooks member", "member")
    with Client(api_key=created.full_key, base_url=live_server.base_url) as client:
        yield client


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    made = Receiver(fail_first=1)
    yield made
    made.close()


def wait(sdk: Client, webhook_id: str, delivery_id: str, timeout: float = 20) -> WebhookDelivery:
    """The delivery once it is delivered or failed."""
    deadline = time.monotonic() + timeout
    while True:
        [delivery] = [d for d in sdk.webhooks.deliveries(webhook_id) if d.id == delivery_id]
        if delivery.is_terminal or time.monotonic() > deadline:
            return delivery
        time.sleep(0.05)


def test_create_read_update_delete(sdk: Client) -> None:
    created = sdk.webhooks.create(
        "https://example.com/labels", ["auto_label.completed", "auto_label.failed"], "labels"
    )
    assert isinstance(created, Webhook) and created.secret and created.secret.startswith("whsec_")
    assert created.events == ["auto_label.completed", "auto_label.failed"] and created.active
    second = sdk.webhooks.create("http://127.0.0.1:9/other", secret=SECRET)
    assert (second.secret, second.events, second.description) == (SECRET, [], None)

    fetched = sdk.webhooks.get(created.id)
    assert fetched.secret is None and fetched.model_dump(exclude={"secret"}) == created.model_dump(
        exclude={"secret"}
    )
    listed = sdk.webhooks.list()
    assert [w.id for w in listed] == [created.id, second.id]
    assert all(w.secret is None for w in listed)
    assert [w.id for w in sdk.webhooks.iter(page_size=1)] == [created.id, second.id]
    assert [w.id for w in sdk.webhooks.list(limit=1, offset=1)] == [second.id]

    updated = sdk.webhooks.update(created.id, events=[], description="", active=False)
    assert (updated.events, updated.description, updated.active) == ([], None, False)
    assert updated.url == created.url and updated.secret is None
    assert sdk.webhooks.update(created.id, url="https://example.com/v2").url.endswith("/v2")
    with pytest.raises(ValidationError) as nothing:
        sdk.webhooks.update(created.id)
    assert nothing.value.status_code is None, "refused before sending"

    sdk.webhooks.delete(created.id)
    with pytest.raises(NotFoundError):
        sdk.webhooks.get(created.id)
    with pytest.raises(NotFoundError):
        sdk.webhooks.delete(created.id)
    sdk.webhooks.delete(second.id)
    assert sdk.webhooks.list() == []


def test_test_ping_is_retried_signed_and_recorded(sdk: Client, receiver: Receiver) -> None:
    webhook = sdk.webhooks.create(receiver.url, ["auto_label.completed"], secret=SECRET)
    queued = sdk.webhooks.test(webhook.id)
    assert (queued.status, queued.event, queued.attempts) == ("pending", "ping", 0)

    done = wait(sdk, webhook.id, queued.id)
    assert (done.status, done.attempts, done.response_status) == ("delivered", 2, 200)
    assert done.last_error is None and done.delivered_at is not None
    first, second = receiver.wait_for(2)
    assert first.body == second.body and done.payload == second.json()
    for request in (first, second):
        timestamp = request.headers["x-pictograph-timestamp"]
        signature = request.headers["x-pictograph-signature"]
        assert verify_signature(SECRET, timestamp, request.body, signature)
        assert not verify_signature("another-secret-0123456789", timestamp, request.body, signature)
        assert request.headers["x-pictograph-delivery"] == queued.id

    again = sdk.webhooks.test(webhook.id)
    assert [d.id for d in sdk.webhooks.deliveries(webhook.id, limit=1)] == [again.id]
    assert [d.id for d in sdk.webhooks.deliveries(webhook.id, limit=1, offset=1)] == [queued.id]
    sdk.webhooks.delete(webhook.id)


def test_errors_map_to_sdk_exceptions(sdk: Client, member: Client, live_server: LiveServer) -> None:
    with pytest.raises(ValidationError) as bad_url:
        sdk.webhooks.create("ftp://example.com/hook")
    assert bad_url.value.status_code == 422 and bad_url.value.errors[0]["loc"] == ["url"]
    unknown: list[Any] = ["ping", "dataset.deleted"]  # the SDK's types would refuse it
    with pytest.raises(ValidationError) as bad_event:
        sdk.webhooks.create("https://example.com/hook", unknown)
    assert bad_event.value.errors[0]["loc"] == ["events", 1]
    with pytest.raises(ValidationError):
        sdk.webhooks.create("https://example.com/hook", "ping")  # type: ignore[arg-type]

    webhook = sdk.webhooks.create("https://example.com/hook")
    with pytest.raises(ForbiddenError):
        member.webhooks.create("https://example.com/mine")
    with pytest.raises(ForbiddenError):
        member.webhooks.test(webhook.id)
    assert member.webhooks.get(webhook.id).secret is None
    assert member.webhooks.deliveries(webhook.id) == []

    stranger_key = add_key(live_server, "owner", new_org=True)
    with Client(api_key=stranger_key, base_url=live_server.base_url) as stranger:
        for call in (stranger.webhooks.get, stranger.webhooks.test, stranger.webhooks.deliveries):
            with pytest.raises(NotFoundError):
                call(webhook.id)
        assert stranger.webhooks.list() == []
    sdk.webhooks.delete(webhook.id)


def test_verify_signature_refuses_anything_but_a_fresh_exact_signature() -> None:
    body = b'{"id":"d1","event":"ping","data":{}}'
    now = int(time.time())
    header = sign(SECRET, now, body)
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert verify_signature(SECRET, now, body, header)
    assert verify_signature(SECRET, str(now), body.decode(), f" {header} ")
    assert not verify_signature(SECRET, now, body + b" ", header)
    assert not verify_signature(SECRET, now + 1, body, header)
    assert not verify_signature(SECRET, now, body, header.replace("sha256=", "sha1="))
    assert not verify_signature(SECRET, "not-a-number", body, header)

    stale = now - 600
    stale_header = sign(SECRET, stale, body)
    assert not verify_signature(SECRET, stale, body, stale_header)
    assert verify_signature(SECRET, stale, body, stale_header, tolerance_seconds=3600)
    future = now + 600
    assert not verify_signature(SECRET, future, body, sign(SECRET, future, body))
