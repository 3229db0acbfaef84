"""The send path's checks, in Notify's order and words, with plain records instead of I/O."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from notify_gateway.adapters.internal_client import (
    InternalUnavailable,
    NotificationsClient,
    TtlCache,
)
from notify_gateway.domain.errors import V2Error
from notify_gateway.domain.sending import prepare_email, prepare_letter, prepare_sms

ROOT = "https://notify.example/"


@dataclass(frozen=True)
class Key:
    key_type: str
    id: uuid.UUID = uuid.uuid4()


def service(**overrides: Any) -> dict[str, Any]:
    base = {
        "id": str(uuid.uuid4()),
        "name": "Parking",
        "active": True,
        "restricted": False,
        "permissions": ["sms", "email", "letter", "international_sms", "international_letters"],
        "prefix_sms": True,
        "email_sender_local_part": "parking",
        "sms_senders": [
            {"id": str(uuid.uuid4()), "sms_sender": "GOVUK", "is_default": True, "archived": False}
        ],
        "team_members": [{"email_address": "team@example.gov.uk", "mobile_number": "07700900111"}],
        "guest_list": [{"type": "mobile", "recipient": "+447700900222"}],
    }
    return {**base, **overrides}


def template(kind: str = "sms", **overrides: Any) -> dict[str, Any]:
    base = {
        "id": str(uuid.uuid4()),
        "template_type": kind,
        "content": "Hi ((name)), ref ((ref))",
        "subject": "About ((name))" if kind != "sms" else None,
        "version": 3,
        "archived": False,
        "hidden": False,
    }
    return {**base, **overrides}


def sms(
    body: dict[str, Any], *, svc: dict[str, Any] | None = None, key: str = "normal", tpl: Any = "default"
) -> Any:
    return prepare_sms(
        body=body,
        service=svc or service(),
        key=Key(key),
        template=template() if tpl == "default" else tpl,
        root=ROOT,
    )


def error_of(call: Any) -> tuple[int, str, str]:
    with pytest.raises(V2Error) as raised:
        call()
    return raised.value.status_code, raised.value.error, raised.value.messages[0]


PERSONALISATION = {"name": "Ada", "ref": "42"}


def test_accepted_sms_response_and_event() -> None:
    svc = service()
    tpl = template()
    accepted = prepare_sms(
        body={
            "phone_number": " 07700 900123 ",
            "template_id": tpl["id"],
            "personalisation": PERSONALISATION,
            "reference": "r1",
        },
        service=svc,
        key=Key("normal"),
        template=tpl,
        root=ROOT,
    )
    nid = accepted.response["id"]
    assert accepted.response == {
        "id": nid,
        "reference": "r1",
        "content": {"body": "Hi Ada, ref 42", "from_number": "GOVUK"},
        "uri": f"{ROOT}v2/notifications/{nid}",
        "template": {
            "id": tpl["id"],
            "version": 3,
            "uri": f"{ROOT}services/{svc['id']}/templates/{tpl['id']}",
        },
        "scheduled_for": None,
    }
    event = accepted.event
    assert (event.recipient, event.normalised_recipient, event.key_type) == (
        "07700 900123",
        "447700900123",
        "normal",
    )
    assert event.template_version == 3
    assert accepted.smoke_test is False


def test_invalid_phone_number_is_a_validation_error_with_the_field_name() -> None:
    assert error_of(lambda: sms({"phone_number": "0770090012", "template_id": "x"})) == (
        400,
        "ValidationError",
        "phone_number Not enough digits",
    )


def test_template_checks_in_order() -> None:
    body = {"phone_number": "07700900123", "template_id": "x", "personalisation": PERSONALISATION}
    assert error_of(lambda: sms(body, tpl=None))[2] == "Template not found"
    assert error_of(lambda: sms(body, tpl=template(hidden=True)))[2] == "Template not found"
    assert (
        error_of(lambda: sms(body, tpl=template("email")))[2]
        == "email template is not suitable for sms notification"
    )
    assert error_of(lambda: sms(body, tpl=template(archived=True)))[2] == "Template has been deleted"
    missing = {**body, "personalisation": {"NAME": "x"}}
    assert error_of(lambda: sms(missing)) == (400, "BadRequestError", "Missing personalisation: ref")


def test_channel_permission() -> None:
    body = {"phone_number": "07700900123", "template_id": "x", "personalisation": PERSONALISATION}
    assert (
        error_of(lambda: sms(body, svc=service(permissions=["email"])))[2]
        == "Service is not allowed to send text messages"
    )


def test_team_keys_and_trial_mode_only_reach_team_and_guest_list() -> None:
    outsider = {"phone_number": "07700900999", "template_id": "x", "personalisation": PERSONALISATION}
    assert (
        error_of(lambda: sms(outsider, key="team"))[2]
        == "Can’t send to this recipient using a team-only API key"
    )
    assert error_of(lambda: sms(outsider, svc=service(restricted=True)))[2] == (
        "Can’t send to this recipient when service is in trial mode – see "
        "https://www.notifications.service.gov.uk/trial-mode"
    )
    for allowed in ("07700 900111", "+44 7700 900222"):
        assert sms({**outsider, "phone_number": allowed}, key="team").event.normalised_recipient.startswith(
            "44"
        )
    assert sms(outsider, key="test", svc=service(restricted=True)).event.key_type == "test"


def test_sms_sender_must_belong_to_the_service() -> None:
    svc = service()
    bogus = str(uuid.uuid4())
    body = {
        "phone_number": "07700900123",
        "template_id": "x",
        "personalisation": PERSONALISATION,
        "sms_sender_id": bogus,
    }
    assert error_of(lambda: sms(body, svc=svc))[2] == (
        f"sms_sender_id {bogus} does not exist in database for service id {svc['id']}"
    )


def test_international_numbers_need_the_permission() -> None:
    body = {"phone_number": "+1 202 555 0143", "template_id": "x", "personalisation": PERSONALISATION}
    assert error_of(lambda: sms(body, svc=service(permissions=["sms"]))) == (
        400,
        "BadRequestError",
        "Cannot send to international mobile numbers",
    )
    assert sms(body).event.international is True


def test_smoke_test_recipients_are_flagged() -> None:
    body = {"phone_number": "07700900000", "template_id": "x", "personalisation": PERSONALISATION}
    assert sms(body).smoke_test is True


def test_email_response_carries_subject_body_and_sender() -> None:
    svc = service()
    tpl = template("email")
    accepted = prepare_email(
        body={
            "email_address": "Someone@Example.com",
            "template_id": tpl["id"],
            "personalisation": PERSONALISATION,
        },
        service=svc,
        key=Key("normal"),
        template=tpl,
        root=ROOT,
        email_domain="notify.example",
    )
    content = accepted.response["content"]
    assert content["from_email"] == "parking@notify.example"
    assert content["subject"] == "About Ada"
    assert content["body"] == "Hi Ada, ref 42"
    assert accepted.event.normalised_recipient == "someone@example.com"
    assert accepted.response["sanitised_content"] == {}


async def test_cache_coalesces_concurrent_loads_and_expires() -> None:
    cache = TtlCache(ttl=0.05)
    calls = 0

    async def load() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return calls

    results = await asyncio.gather(*(cache.get("k", load) for _ in range(20)))
    assert results == [1] * 20 and calls == 1
    await asyncio.sleep(0.06)
    assert await cache.get("k", load) == 2


async def test_cache_max_age_turns_older_entries_into_misses() -> None:
    cache = TtlCache(ttl=60)
    calls = 0

    async def load() -> int:
        nonlocal calls
        calls += 1
        return calls

    assert await cache.get("k", load) == 1
    assert await cache.get("k", load, max_age=10) == 1  # young enough
    await asyncio.sleep(0.03)
    assert await cache.get("k", load, max_age=0.02) == 2  # too old for this caller: reloaded
    assert await cache.get("k", load) == 2  # and the reload is what everyone now sees


async def test_fresh_service_lookups_reach_the_owner_and_refresh_the_cache() -> None:
    hits = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal hits
        hits += 1
        await asyncio.sleep(0.01)
        return httpx.Response(200, json={"id": str(request.url).split("/")[-2], "hits": hits})

    client = NotificationsClient("http://notifications", ttl=60, timeout=1)
    client.http = httpx.AsyncClient(base_url="http://notifications", transport=httpx.MockTransport(answer))
    sid = uuid.uuid4()
    assert (await client.service(sid))["hits"] == 1
    assert (await client.service(sid))["hits"] == 1
    assert (await client.service(sid, fresh=True))["hits"] == 2
    assert (await client.service(sid))["hits"] == 2
    both = await asyncio.gather(client.service(sid, fresh=True), client.service(sid, fresh=True))
    assert [b["hits"] for b in both] == [3, 3]  # concurrent fresh reads share one call
    await client.aclose()


def test_length_is_checked_after_the_recipient() -> None:
    long_template = template(content="x" * 919)
    outsider = {"phone_number": "07700900999", "template_id": "x"}
    assert error_of(lambda: sms(outsider, key="team", tpl=long_template))[2].startswith(
        "Can’t send to this recipient"
    )
    assert error_of(lambda: sms(outsider, tpl=long_template))[2] == (
        "Your message is too long. Text messages cannot be longer than 918 characters. "
        "Your message is 919 characters long."
    )


async def test_cache_serves_the_last_value_while_the_owner_is_unreachable_then_gives_up() -> None:
    cache = TtlCache(ttl=0.01, stale_ttl=0.2)

    async def fresh() -> str:
        return "v1"

    async def down() -> str:
        raise InternalUnavailable("ConnectError")

    assert await cache.get("k", fresh) == "v1"
    await asyncio.sleep(0.02)
    assert await cache.get("k", down) == "v1"
    await asyncio.sleep(0.25)
    with pytest.raises(InternalUnavailable):
        await cache.get("k", down)
    with pytest.raises(InternalUnavailable):
        await cache.get("never-loaded", down)


def letter(
    body: dict[str, Any], *, svc: dict[str, Any] | None = None, key: str = "normal", tpl: Any = "default"
) -> Any:
    return prepare_letter(
        body=body,
        service=svc or service(),
        key=Key(key),
        template=template("letter", postage="first") if tpl == "default" else tpl,
        root=ROOT,
    )


ADDRESS = {"address_line_1": "A. Person", "address_line_2": "1 High Street", "address_line_3": "sw1a 1aa"}


def test_accepted_letter_uses_the_template_postage_and_the_normalised_address() -> None:
    accepted = letter(
        {"template_id": "x", "personalisation": {**ADDRESS, **PERSONALISATION}, "reference": "L1"}
    )
    assert accepted.response["content"] == {"body": "Hi Ada, ref 42", "subject": "About Ada"}
    assert accepted.event.postage == "first"
    assert accepted.event.address_lines == ["A. Person", "1 High Street", "SW1A 1AA"]
    assert accepted.smoke_test is False


def test_international_letters_get_the_zone_postage() -> None:
    address = {"address_line_1": "A. Person", "address_line_2": "1 Rue", "address_line_3": "France"}
    assert (
        letter({"template_id": "x", "personalisation": {**address, **PERSONALISATION}}).event.postage
        == "europe"
    )


def test_letter_key_and_trial_rules_are_403() -> None:
    body = {"template_id": "x", "personalisation": {**ADDRESS, **PERSONALISATION}}
    assert error_of(lambda: letter(body, key="team")) == (
        403,
        "BadRequestError",
        "Cannot send letters with a team api key",
    )
    assert error_of(lambda: letter(body, svc=service(restricted=True))) == (
        403,
        "BadRequestError",
        "Cannot send letters when service is in trial mode",
    )
    assert letter(body, key="test", svc=service(restricted=True)).event.key_type == "test"


def test_letter_address_errors_are_validation_errors() -> None:
    short = {
        "template_id": "x",
        "personalisation": {"address_line_1": "A", "address_line_2": "B", **PERSONALISATION},
    }
    assert error_of(lambda: letter(short)) == (400, "ValidationError", "Address must be at least 3 lines")
    assert error_of(lambda: letter({"template_id": "x", "personalisation": ADDRESS})) == (
        400,
        "BadRequestError",
        "Missing personalisation: name, ref",
    )


def test_letter_qr_code_too_long_carries_its_sizes() -> None:
    tpl = template("letter", content="qr: ((link))")
    body = {"template_id": "x", "personalisation": {**ADDRESS, "link": "https://example.com/" + "a" * 600}}
    with pytest.raises(V2Error) as raised:
        letter(body, tpl=tpl)
    item = raised.value.body()["errors"][0]  # type: ignore[index]
    assert item["message"] == "Cannot create a usable QR code - the link is too long"
    assert item["max_bytes"] == 504 and item["num_bytes"] > 504


def test_sanitise_content_for_cleans_the_named_values_and_reports_them() -> None:
    tpl = template("email", content="Hello ((name))")
    accepted = prepare_email(
        body={
            "email_address": "a@example.com",
            "template_id": tpl["id"],
            "personalisation": {"name": "Amala, please [click](https://evil.link)", "ref": "x"},
            "sanitise_content_for": ["NAME"],
        },
        service=service(),
        key=Key("normal"),
        template=tpl,
        root=ROOT,
        email_domain="notify.example",
    )
    cleaned = "Amala, please \\[click\\]\\(\\)"
    assert accepted.response["sanitised_content"] == {
        "name": {"unsanitised": "Amala, please [click](https://evil.link)", "sanitised": cleaned}
    }
    assert accepted.response["content"]["body"] == f"Hello {cleaned}"
    assert accepted.event.personalisation["name"] == cleaned


def test_email_reply_to_must_belong_to_the_service() -> None:
    svc = service(
        email_reply_to=[
            {
                "id": str(uuid.uuid4()),
                "email_address": "help@example.gov.uk",
                "is_default": True,
                "archived": False,
            }
        ]
    )
    tpl = template("email")
    body = {"email_address": "a@example.com", "template_id": tpl["id"], "personalisation": PERSONALISATION}
    default = prepare_email(
        body=body, service=svc, key=Key("normal"), template=tpl, root=ROOT, email_domain="d"
    )
    assert default.event.sender == "help@example.gov.uk"
    bogus = str(uuid.uuid4())
    assert (
        error_of(
            lambda: prepare_email(
                body={**body, "email_reply_to_id": bogus},
                service=svc,
                key=Key("normal"),
                template=tpl,
                root=ROOT,
                email_domain="d",
            )
        )[2]
        == f"email_reply_to_id {bogus} does not exist in database for service id {svc['id']}"
    )
