"""Webhooks over HTTP: CRUD, roles, tenancy, and real signed deliveries with retries.

Deliveries go to :class:`Receiver`, an HTTP server on 127.0.0.1 in this process that records
every request and can fail the first N. The live server runs with 3 attempts and a 0.2 s
retry base (tests/live_server.py). Every test works in an organization of its own, so no
other test's events reach these webhooks. The last tests run ``emit`` and the job handler
in-process, one attempt at a time.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from pictograph.server.app import build_context
from pictograph.server.context import ServerContext
from pictograph.server.db.tables import Job, Organization, Webhook, WebhookDelivery, as_utc
from pictograph.server.jobs import JobContext
from pictograph.server.jobs.webhook_job import deliver
from pictograph.server.services.webhooks import JOB_KIND, emit
from pictograph.server.settings import Settings
from tests.live_server import (
    LiveServer,
    create_postgres_database,
    drop_postgres_database,
    postgres_available,
)
from tests.server.helpers import (
    ME,
    ROLES,
    add_key,
    assert_envelope,
    database,
    developer_http,
    http,
    new_key,
    parse_time,
)
from tests.webhook_receiver import Received, Receiver

WEBHOOK_KEYS = {"id", "organization_id", "url", "events", "description", "active", "created_at"}
DELIVERY_KEYS = {
    "id", "webhook_id", "organization_id", "event", "status", "attempts", "response_status",
    "last_error", "payload", "created_at", "delivered_at",
}  # fmt: skip
MAX_ATTEMPTS = 3
RETRY_BASE = 0.2
UNIT_SECRET = "whsec_unit_test_secret"


# ───────────── the receiver ─────────────

ReceiverFactory = Callable[..., Receiver]


@pytest.fixture()
def receivers() -> Iterator[ReceiverFactory]:
    """Makes receivers (``Receiver``'s arguments) and closes them after the test."""
    made: list[Receiver] = []

    def factory(fail_first: int | None = 0, fail_status: int = 500) -> Receiver:
        made.append(Receiver(fail_first, fail_status))
        return made[-1]

    yield factory
    for receiver in made:
        receiver.close()


def closed_port_url() -> str:
    """A loopback URL nobody listens on: connections to it are refused."""
    receiver = Receiver()
    url = receiver.url
    receiver.close()
    return url


# ───────────── organizations and helpers ─────────────


@dataclass
class Org:
    id: str
    by_role: dict[str, httpx.Client]

    @property
    def owner(self) -> httpx.Client:
        return self.by_role["owner"]


@pytest.fixture()
def org(live_server: LiveServer) -> Iterator[Org]:
    """A new organization with a developer-API client per role."""
    owner_key = add_key(live_server, "owner", new_org=True)
    with http(live_server, owner_key) as root:
        org_id = root.get(ME).json()["organization"]["id"]
        keys = {role: new_key(root, org_id, role)["api_key"] for role in ROLES if role != "owner"}
    keys["owner"] = owner_key
    clients = {role: developer_http(live_server, key) for role, key in keys.items()}
    yield Org(org_id, clients)
    for client in clients.values():
        client.close()


@pytest.fixture()
def stranger(live_server: LiveServer) -> Iterator[httpx.Client]:
    """The owner of yet another organization."""
    with developer_http(live_server, add_key(live_server, "owner", new_org=True)) as client:
        yield client


def create(client: httpx.Client, url: str, **body: Any) -> dict[str, Any]:
    response = client.post("/webhooks", json={"url": url, **body})
    assert response.status_code == 201, response.text
    return response.json()["webhook"]


def ping(client: httpx.Client, webhook_id: str) -> str:
    response = client.post(f"/webhooks/{webhook_id}/test")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["delivery"]["status"] == "pending" and body["delivery"]["event"] == "ping"
    return body["delivery_id"]


def deliveries(client: httpx.Client, webhook_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/webhooks/{webhook_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def outcome(delivery: dict[str, Any]) -> tuple[str, int, int | None]:
    return delivery["status"], delivery["attempts"], delivery["response_status"]


def wait_delivery(
    client: httpx.Client, webhook_id: str, delivery_id: str, timeout: float = 20
) -> dict[str, Any]:
    """The delivery once it is delivered or failed."""
    deadline = time.monotonic() + timeout
    while True:
        found = [d for d in deliveries(client, webhook_id)["deliveries"] if d["id"] == delivery_id]
        assert found, f"delivery {delivery_id} not listed"
        if found[0]["status"] != "pending" or time.monotonic() > deadline:
            return found[0]
        time.sleep(0.05)


def delivery_jobs(server: LiveServer, delivery_id: str) -> list[Job]:
    """The delivery's jobs, one per attempt, in attempt order."""
    db = database(server)
    try:
        with db.session() as session:
            jobs = session.scalars(select(Job).where(Job.kind == JOB_KIND)).all()
    finally:
        db.dispose()
    mine = [job for job in jobs if job.payload.get("delivery_id") == delivery_id]
    return sorted(mine, key=lambda job: job.payload["attempt"])


# ───────────── CRUD, validation, roles, tenancy ─────────────


def test_create_shows_the_secret_once_and_reads_never(org: Org) -> None:
    created = create(org.owner, "https://example.com/hook", description=" CI ")
    assert created.keys() == WEBHOOK_KEYS | {"secret"}
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert (created["events"], created["active"], created["description"]) == ([], True, "CI")
    assert created["organization_id"] == org.id

    chosen = create(org.owner, "http://receiver.internal:9000/x", secret="s" * 20,
                    events=["auto_label.failed", "ping", "ping"])  # fmt: skip
    assert chosen["secret"] == "s" * 20 and chosen["events"] == ["auto_label.failed", "ping"]

    for role, client in org.by_role.items():
        listed = client.get("/webhooks/")
        assert listed.status_code == 200, f"{role}: {listed.text}"
        body = listed.json()
        assert (body["total"], body["limit"], body["offset"]) == (2, 100, 0)
        assert [w["id"] for w in body["webhooks"]] == [created["id"], chosen["id"]]
        fetched = client.get(f"/webhooks/{created['id']}")
        assert fetched.status_code == 200 and fetched.json()["webhook"].keys() == WEBHOOK_KEYS
        assert "whsec_" not in listed.text + fetched.text and "s" * 20 not in listed.text
    page = org.owner.get("/webhooks", params={"limit": 1, "offset": 1}).json()
    assert [w["id"] for w in page["webhooks"]] == [chosen["id"]] and page["total"] == 2


def test_update_and_delete(org: Org) -> None:
    webhook = create(org.owner, "https://example.com/a", events=["ping"], description="old")
    path = f"/webhooks/{webhook['id']}"
    response = org.by_role["admin"].patch(
        path, json={"url": "https://example.com/b", "events": [], "active": False}
    )
    assert response.status_code == 200, response.text
    updated = response.json()["webhook"]
    assert updated.keys() == WEBHOOK_KEYS
    assert (updated["url"], updated["events"]) == ("https://example.com/b", [])
    assert (updated["active"], updated["description"]) == (False, "old")
    cleared = org.owner.patch(path, json={"description": None}).json()["webhook"]
    assert cleared["description"] is None and cleared["url"] == "https://example.com/b"

    assert_envelope(org.owner.patch(path, json={}), 422, "validation_error")
    assert_envelope(org.owner.patch(path, json={"secret": "x" * 20}), 422, "validation_error")
    for field in ("url", "events", "active"):
        body = assert_envelope(org.owner.patch(path, json={field: None}), 422, "validation_error")
        assert body["errors"][0]["loc"] == [field]

    deleted = org.by_role["admin"].delete(path)
    assert deleted.status_code == 200 and deleted.json() == {"id": webhook["id"], "deleted": True}
    for method, suffix in [("GET", ""), ("DELETE", ""), ("GET", "/deliveries"), ("POST", "/test")]:
        assert_envelope(org.owner.request(method, path + suffix), 404, "not_found")


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "example.com/hook", "http://", "https:///path", "",
     "http://exa mple.com", "http://example.com:port/", "javascript:alert(1)",
     "https://" + "a" * 2048 + ".com"],
)  # fmt: skip
def test_bad_url_is_422_at_url(org: Org, url: str) -> None:
    body = assert_envelope(org.owner.post("/webhooks", json={"url": url}), 422, "validation_error")
    assert body["errors"][0]["loc"] == ["url"]
    webhook = create(org.owner, "https://example.com/ok")
    patched = org.owner.patch(f"/webhooks/{webhook['id']}", json={"url": url})
    assert assert_envelope(patched, 422, "validation_error")["errors"][0]["loc"] == ["url"]


def test_unknown_event_and_other_bad_fields_are_422(org: Org) -> None:
    url = "https://example.com/hook"
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        ({"events": ["ping", "image.created"]}, ["events", 1]),
        ({"events": ["auto_label.completed", "PING"]}, ["events", 1]),
        ({"events": "ping"}, ["events"]),
        ({"events": [7]}, ["events", 0]),
        ({"secret": "too-short"}, ["secret"]),
        ({"secret": "has spaces in it, sadly"}, ["secret"]),
        ({"description": "d" * 1001}, ["description"]),
        ({"url": 42}, ["url"]),
        ({"unknown": 1}, ["unknown"]),
    ]
    for extra, loc in cases:
        body = assert_envelope(
            org.owner.post("/webhooks", json={"url": url, **extra}), 422, "validation_error"
        )
        assert body["errors"][0]["loc"] == loc, (extra, body)
    webhook = create(org.owner, url)
    patched = org.owner.patch(f"/webhooks/{webhook['id']}", json={"events": ["nope"]})
    assert assert_envelope(patched, 422, "validation_error")["errors"][0]["loc"] == ["events", 0]
    assert org.owner.get("/webhooks").json()["total"] == 1


def test_only_admins_and_owners_change_webhooks(org: Org) -> None:
    webhook = create(org.by_role["admin"], "https://example.com/hook")
    path = f"/webhooks/{webhook['id']}"
    for role in ("viewer", "member"):
        client = org.by_role[role]
        assert_envelope(client.post("/webhooks", json={"url": "https://e.com"}), 403, "forbidden")
        assert_envelope(client.patch(path, json={"active": False}), 403, "forbidden")
        assert_envelope(client.delete(path), 403, "forbidden")
        assert_envelope(client.post(path + "/test"), 403, "forbidden")
        assert client.get(path + "/deliveries").status_code == 200
    assert org.owner.get("/webhooks").json()["total"] == 1
    assert deliveries(org.owner, webhook["id"])["total"] == 0


def test_another_organizations_webhook_is_404(org: Org, stranger: httpx.Client) -> None:
    webhook = create(org.owner, "https://example.com/hook")
    path = f"/webhooks/{webhook['id']}"
    for method, suffix, body in [
        ("GET", "", None), ("PATCH", "", {"active": False}), ("DELETE", "", None),
        ("GET", "/deliveries", None), ("POST", "/test", None),
    ]:  # fmt: skip
        response = stranger.request(method, path + suffix, json=body)
        assert_envelope(response, 404, "not_found")
    empty = {"webhooks": [], "total": 0, "limit": 100, "offset": 0}
    assert stranger.get("/webhooks").json() == empty
    assert org.owner.get(path).json()["webhook"]["active"] is True
    assert deliveries(org.owner, webhook["id"])["total"] == 0


# ───────────── deliveries ─────────────


def test_ping_is_signed_with_the_webhooks_secret(
    org: Org, receivers: ReceiverFactory, live_server: LiveServer
) -> None:
    receiver = receivers()
    webhook = create(org.owner, receiver.url, events=["auto_label.completed"])
    delivery_id = ping(org.by_role["admin"], webhook["id"])
    [request] = receiver.wait_for(1)

    assert request.verifies(webhook["secret"])
    assert not request.verifies("whsec_another_secret_entirely")
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("pictograph-webhooks/")
    assert headers["x-pictograph-event"] == "ping"
    assert headers["x-pictograph-delivery"] == delivery_id
    assert abs(int(headers["x-pictograph-timestamp"]) - time.time()) < 30
    body = request.json()
    assert body.keys() == {"id", "event", "created_at", "organization_id", "data"}
    assert (body["id"], body["event"], body["organization_id"]) == (delivery_id, "ping", org.id)
    assert body["data"] == {"webhook_id": webhook["id"]}
    tampered = Received(headers, request.body.replace(b"ping", b"pong"), request.at)
    assert not tampered.verifies(webhook["secret"])

    delivery = wait_delivery(org.owner, webhook["id"], delivery_id)
    assert delivery.keys() == DELIVERY_KEYS
    assert outcome(delivery) == ("delivered", 1, 200)
    assert delivery["last_error"] is None and delivery["delivered_at"] is not None
    assert delivery["payload"] == body
    assert parse_time(delivery["created_at"]) == parse_time(body["created_at"])
    [job] = delivery_jobs(live_server, delivery_id)
    assert (job.status, job.result["status"]) == ("completed", "delivered")


def test_failed_attempts_are_retried_with_backoff_until_delivered(
    org: Org, receivers: ReceiverFactory, live_server: LiveServer
) -> None:
    receiver = receivers(fail_first=2, fail_status=500)
    webhook = create(org.owner, receiver.url)
    delivery_id = ping(org.owner, webhook["id"])

    delivery = wait_delivery(org.owner, webhook["id"], delivery_id)
    assert outcome(delivery) == ("delivered", 3, 200)
    assert delivery["last_error"] is None
    requests = receiver.wait_for(3)
    assert len(requests) == 3
    assert {r.headers["x-pictograph-delivery"] for r in requests} == {delivery_id}
    assert all(r.verifies(webhook["secret"]) for r in requests), "every attempt is signed afresh"
    assert len({r.body for r in requests}) == 1, "every attempt sends the same document"
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]
    assert gaps[0] >= RETRY_BASE and gaps[1] >= 2 * RETRY_BASE, gaps

    jobs = delivery_jobs(live_server, delivery_id)
    assert [job.payload["attempt"] for job in jobs] == [1, 2, 3]
    assert jobs[0].not_before is None
    for attempt, job in enumerate(jobs[1:], start=1):
        # The job row is inserted just after the back-off is measured from, so it reads a bit short.
        delay = RETRY_BASE * 2 ** (attempt - 1)
        wait = (as_utc(job.not_before) - as_utc(job.created_at)).total_seconds()
        assert delay / 2 < wait <= delay, (attempt, wait)
        assert as_utc(job.started_at) >= as_utc(job.not_before)
    assert [job.result["status"] for job in jobs] == ["pending", "pending", "delivered"]


def test_a_receiver_that_keeps_failing_ends_failed_after_max_attempts(
    org: Org, receivers: ReceiverFactory, live_server: LiveServer
) -> None:
    receiver = receivers(fail_first=None, fail_status=503)
    failing = create(org.owner, receiver.url)
    unreachable = create(org.owner, closed_port_url())
    failing_id, unreachable_id = ping(org.owner, failing["id"]), ping(org.owner, unreachable["id"])

    delivery = wait_delivery(org.owner, failing["id"], failing_id)
    assert outcome(delivery) == ("failed", 3, 503)
    assert delivery["last_error"] == "HTTP 503: receiver down" and delivery["delivered_at"] is None
    jobs = delivery_jobs(live_server, failing_id)
    assert [job.payload["attempt"] for job in jobs] == [1, 2, 3], "no attempt after the last"
    assert [job.result["status"] for job in jobs] == ["pending", "pending", "failed"]
    assert len(receiver.requests) == MAX_ATTEMPTS

    refused = wait_delivery(org.owner, unreachable["id"], unreachable_id)
    assert outcome(refused) == ("failed", 3, None)
    assert refused["last_error"].startswith("ConnectError")


def test_deliveries_are_listed_newest_first(org: Org, receivers: ReceiverFactory) -> None:
    receiver = receivers()
    webhook = create(org.owner, receiver.url)
    sent = [ping(org.owner, webhook["id"]) for _ in range(3)]
    receiver.wait_for(3)
    page = deliveries(org.owner, webhook["id"], limit=2)
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
    assert [d["id"] for d in page["deliveries"]] == sent[:0:-1]
    rest = deliveries(org.owner, webhook["id"], limit=2, offset=2)
    assert [d["id"] for d in rest["deliveries"]] == sent[:1]
    other = create(org.owner, receiver.url)
    assert deliveries(org.owner, other["id"])["total"] == 0


def test_deleting_a_webhook_stops_its_retries(
    org: Org, receivers: ReceiverFactory, live_server: LiveServer
) -> None:
    receiver = receivers(fail_first=None)
    webhook = create(org.owner, receiver.url)
    delivery_id = ping(org.owner, webhook["id"])
    receiver.wait_for(1)
    assert org.owner.delete(f"/webhooks/{webhook['id']}").status_code == 200
    deadline = time.monotonic() + 10
    while any(job.finished_at is None for job in delivery_jobs(live_server, delivery_id)):
        assert time.monotonic() < deadline, "the delivery's jobs did not end"
        time.sleep(0.05)
    assert len(receiver.requests) == 1


def test_emit_reaches_every_active_subscriber_once(
    org: Org, receivers: ReceiverFactory, live_server: LiveServer
) -> None:
    receiver = receivers()
    completed = create(org.owner, receiver.url + "/completed", events=["auto_label.completed"])
    everything = create(org.owner, receiver.url + "/all")
    create(org.owner, receiver.url + "/failed", events=["auto_label.failed"])
    paused = create(org.owner, receiver.url + "/paused")
    assert org.owner.patch(f"/webhooks/{paused['id']}", json={"active": False}).status_code == 200

    data = {"job_id": "job-1", "dataset_name": "cars", "images_labeled": 12}
    db = database(live_server)
    try:
        with db.session() as session:
            ids = emit(session, org.id, "auto_label.completed", data)
    finally:
        db.dispose()
    assert len(ids) == 2
    requests = receiver.wait_for(2)
    time.sleep(0.3)  # nothing else arrives
    assert len(receiver.requests) == 2
    by_id = {r.headers["x-pictograph-delivery"]: r for r in requests}
    assert by_id.keys() == set(ids)
    secrets = {completed["id"]: completed["secret"], everything["id"]: everything["secret"]}
    for webhook_id, secret in secrets.items():
        [delivery] = deliveries(org.owner, webhook_id)["deliveries"]
        request = by_id[delivery["id"]]
        assert request.verifies(secret)
        assert request.json()["data"] == data and request.json()["event"] == "auto_label.completed"
        assert request.headers["x-pictograph-event"] == "auto_label.completed"
        assert wait_delivery(org.owner, webhook_id, delivery["id"])["status"] == "delivered"


# ───────────── emit and the handler, in-process ─────────────


@pytest.fixture(params=["sqlite", "postgresql"])
def ctx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerContext]:
    """A server context without workers: the tests run each job themselves."""
    url = db_name = None
    if request.param == "postgresql":
        if not postgres_available():
            pytest.skip("no PostgreSQL reachable")
        url, db_name = create_postgres_database()
    settings = Settings(
        data_dir=tmp_path, database_url=url, write_client_config=False, bcrypt_rounds=4,
        bootstrap_api_key="pk_live_webhook_test_key_0123456789", job_workers=0,
        webhook_max_attempts=2, webhook_retry_base_seconds=30,
    )  # fmt: skip
    context = build_context(settings)
    yield context
    context.db.dispose()
    if db_name:
        drop_postgres_database(db_name)


def add_webhook(
    ctx: ServerContext, org_id: str, url: str, events: list[str], active: bool = True
) -> str:
    with ctx.db.session() as session:
        webhook = Webhook(
            organization_id=org_id, url=url, events=events, secret=UNIT_SECRET, active=active
        )
        session.add(webhook)
        session.flush()
        return webhook.id


def jobs_of(ctx: ServerContext) -> list[Job]:
    with ctx.db.session() as session:
        jobs = session.scalars(select(Job).where(Job.kind == JOB_KIND).order_by(Job.created_at))
        return list(jobs)


def run_job(ctx: ServerContext, job: Job) -> dict[str, Any]:
    return deliver(JobContext(ctx, job, "unit-test", 30.0))


def test_emit_is_all_or_nothing_with_the_callers_transaction(ctx: ServerContext) -> None:
    with ctx.db.session() as session:
        org_id = session.scalar(select(Organization.id))
    url = "http://127.0.0.1:9/unused"
    wanted = {
        add_webhook(ctx, org_id, url, ["auto_label.failed"]),
        add_webhook(ctx, org_id, url, []),
    }
    add_webhook(ctx, org_id, url, ["auto_label.completed", "ping"])
    add_webhook(ctx, org_id, url, ["auto_label.failed"], active=False)

    with pytest.raises(RuntimeError), ctx.db.session() as session:
        assert len(emit(session, org_id, "auto_label.failed", {"error": "x"})) == 2
        raise RuntimeError("the caller's work failed after emitting")
    with ctx.db.session() as session:
        assert session.scalars(select(WebhookDelivery)).all() == []
    assert jobs_of(ctx) == [], "no job survives the rolled-back event"

    with ctx.db.session() as session:
        ids = emit(session, org_id, "auto_label.failed", {"error": "model crashed"})
        with pytest.raises(ValueError):
            emit(session, org_id, "auto_label.started", {})
    with ctx.db.session() as session:
        recorded = session.scalars(select(WebhookDelivery)).all()
    assert {d.webhook_id for d in recorded} == wanted and {d.id for d in recorded} == set(ids)
    states = {(d.status, d.attempts, d.event) for d in recorded}
    assert states == {("pending", 0, "auto_label.failed")}
    assert all(d.payload["data"] == {"error": "model crashed"} for d in recorded)
    assert sorted((j.payload["delivery_id"], j.payload["attempt"]) for j in jobs_of(ctx)) == sorted(
        (delivery_id, 1) for delivery_id in ids
    )


def test_each_attempt_is_recorded_once_and_schedules_the_next(
    ctx: ServerContext, receivers: ReceiverFactory
) -> None:
    receiver = receivers(fail_first=1, fail_status=502)
    with ctx.db.session() as session:
        org_id = session.scalar(select(Organization.id))
    add_webhook(ctx, org_id, receiver.url, [])
    with ctx.db.session() as session:
        [delivery_id] = emit(session, org_id, "ping", {})
    [first] = jobs_of(ctx)

    assert run_job(ctx, first)["status"] == "pending"
    assert run_job(ctx, first) == {"delivery_id": delivery_id, "attempt": 1, "skipped": True}
    assert len(receiver.requests) == 1, "a job run twice sends its attempt once"
    with ctx.db.session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, 502)
    assert delivery.last_error == "HTTP 502: receiver down"
    _, second = jobs_of(ctx)
    assert second.payload == {"delivery_id": delivery_id, "attempt": 2}
    wait = (as_utc(second.not_before) - as_utc(second.created_at)).total_seconds()
    assert 29 < wait <= 30

    assert run_job(ctx, second) == {
        "delivery_id": delivery_id, "attempt": 2, "status": "delivered", "response_status": 200,
    }  # fmt: skip
    with ctx.db.session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 2, 200)
    assert delivery.last_error is None and delivery.delivered_at is not None
    assert len(jobs_of(ctx)) == 2
    assert all(r.verifies(UNIT_SECRET) for r in receiver.wait_for(2))
