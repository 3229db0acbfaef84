"""Send a file by email (public-api.md §8): each file-object message, types, and the send path's step 9."""

from __future__ import annotations

import base64
import io
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

import pytest
from notify_gateway.domain import files
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
        "permissions": ["sms", "email", "letter"],
        "prefix_sms": True,
        "email_sender_local_part": "parking",
        "sms_senders": [],
        "team_members": [{"email_address": "team@example.gov.uk", "mobile_number": "07700900111"}],
        "guest_list": [],
    }
    return {**base, **overrides}


def template(kind: str, **overrides: Any) -> dict[str, Any]:
    base = {
        "id": str(uuid.uuid4()),
        "template_type": kind,
        "content": "Hi",
        "subject": None,
        "version": 1,
        "archived": False,
        "hidden": False,
    }
    return {**base, **overrides}


CSV = base64.b64encode(b"a,b\n1,2\n").decode()


def errors_of(value: dict[str, Any]) -> tuple[str, list[str]]:
    with pytest.raises(V2Error) as raised:
        files.validate_file(value)
    assert raised.value.status_code == 400
    return raised.value.error, raised.value.messages


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"file": 42}, "file 42 is not of type string"),
        ({"file": None}, "file None is not of type string"),
        (
            {"file": CSV, "filename": "report"},
            "filename `filename` must end with a file extension. For example, filename.csv",
        ),
        (
            {"file": CSV, "confirm_email_before_download": "yes"},
            "confirm_email_before_download Unsupported value for confirm_email_before_download: yes. "
            "Use a boolean true or false value.",
        ),
        (
            {"file": CSV, "retention_period": "79 weeks"},
            "retention_period Unsupported value for retention_period: 79 weeks. "
            "Supported periods are from 1 to 78 weeks.",
        ),
        (
            {"file": CSV, "retention_period": "0 weeks"},
            "retention_period Unsupported value for retention_period: 0 weeks. "
            "Supported periods are from 1 to 78 weeks.",
        ),
        (
            {"file": CSV, "retention_period": "2 months"},
            "retention_period Unsupported value for retention_period: 2 months. "
            "Supported periods are from 1 to 78 weeks.",
        ),
        (
            {"file": CSV, "is_csv": "no"},
            "is_csv Unsupported value for is_csv: no. Use a boolean true or false value.",
        ),
        (
            {"file": CSV, "is_csv": True, "filename": "a.csv"},
            "Do not set a value for `is_csv` if `filename` is set.",
        ),
        ({"file": CSV, "colour": "red"}, "Additional properties are not allowed (colour was unexpected)"),
    ],
)
def test_each_file_option_message(value: dict[str, Any], message: str) -> None:
    assert errors_of(value) == ("ValidationError", [message])


def test_several_problems_are_all_reported() -> None:
    error, messages = errors_of({"file": CSV, "a": 1, "b": 2, "retention_period": "x"})
    assert error == "ValidationError"
    assert messages[0] == "Additional properties are not allowed (a, b were unexpected)"
    assert messages[1].startswith("retention_period Unsupported value for retention_period: x.")


def test_defaults_and_accepted_values() -> None:
    opts = files.validate_file(
        {"file": CSV, "filename": None, "confirm_email_before_download": None, "retention_period": None}
    )
    assert (opts.confirm_email_before_download, opts.retention_weeks, opts.filename) == (True, 26, None)
    opts = files.validate_file(
        {"file": CSV, "confirm_email_before_download": False, "retention_period": " 1 Week "}
    )
    assert (opts.confirm_email_before_download, opts.retention_weeks) == (False, 1)
    assert files.validate_file({"file": CSV, "retention_period": "78 weeks"}).retention_weeks == 78


def _zip(names: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "mime"),
    [
        (b"%PDF-1.7 ...", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0....", "image/jpeg"),
        (b"{\\rtf1 hello}", "application/rtf"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1....", "application/msword"),
        (b'{"a": 1}', "application/json"),
        (b"just words", "text/plain"),
        (_zip({"word/document.xml": b"x"}), files.FILE_TYPES["docx"]),
        (_zip({"xl/workbook.xml": b"x"}), files.FILE_TYPES["xlsx"]),
        (_zip({"mimetype": files.FILE_TYPES["odt"].encode()}), files.FILE_TYPES["odt"]),
        (_zip({"other.bin": b"x"}), "application/zip"),
        (b"MZ\x90\x00\x03", "application/octet-stream"),
    ],
)
def test_sniffing(content: bytes, mime: str) -> None:
    assert files.sniff(content) == mime


def test_is_csv_sniffs_text_as_csv() -> None:
    assert files.sniff(b"a,b\n", is_csv=True) == "text/csv"


def test_unsupported_type_message_by_extension_and_by_content() -> None:
    supported = (
        "'.csv', '.doc', '.docx', '.jpeg', '.jpg', '.json', '.odt', '.pdf', '.png', '.rtf', '.txt', '.xlsx'"
    )
    with pytest.raises(V2Error) as raised:
        files.file_type(b"x", files.validate_file({"file": CSV, "filename": "page.html"}))
    assert raised.value.error == "BadRequestError"
    assert raised.value.messages == [f"Unsupported file type 'text/html'. Supported types are: {supported}"]
    with pytest.raises(V2Error) as raised:
        files.file_type(b"MZ\x90\x00", files.validate_file({"file": CSV}))
    assert raised.value.messages == [
        f"Unsupported file type 'application/octet-stream'. Supported types are: {supported}"
    ]


def test_file_type_uses_the_extension_and_invents_a_name() -> None:
    assert files.file_type(b"a,b", files.validate_file({"file": CSV, "filename": "R.CSV"})) == (
        "text/csv",
        "R.CSV",
    )
    assert files.file_type(b"%PDF-1", files.validate_file({"file": CSV})) == (
        "application/pdf",
        "document.pdf",
    )


class FakeStore:
    def __init__(self, reject: str | None = None) -> None:
        self.uploads: list[tuple[str, dict[str, Any]]] = []
        self.reject = reject

    def upload(self, service_id: str, document: dict[str, Any]) -> dict[str, Any]:
        if self.reject:
            raise files.DocumentRejected(self.reject)
        self.uploads.append((service_id, document))
        return {"id": str(uuid.uuid4()), "key": "k3y"}


_store: FakeStore | None = None


@pytest.fixture
def store() -> Any:
    global _store
    _store = FakeStore()
    yield _store
    _store = None


def email(
    personalisation: dict[str, Any], *, svc: dict[str, Any] | None = None, to: str = "ada@example.com"
) -> Any:
    tpl = template("email", content="Download: ((link))", subject="Your file")
    return prepare_email(
        body={"email_address": to, "template_id": tpl["id"], "personalisation": personalisation},
        service=svc or service(contact_link="https://example.gov.uk/contact"),
        key=Key("normal"),
        template=tpl,
        root=ROOT,
        email_domain="notify.example",
        document_store=_store,
    )


def message_of(call: Any) -> tuple[int, str, list[str]]:
    with pytest.raises(V2Error) as raised:
        call()
    return raised.value.status_code, raised.value.error, raised.value.messages


def test_email_file_is_uploaded_and_the_link_goes_in_the_body(store: FakeStore) -> None:
    svc = service(contact_link="https://example.gov.uk/contact")
    accepted = email(
        {
            "link": {
                "file": CSV,
                "filename": "a.csv",
                "confirm_email_before_download": None,
                "retention_period": "4 weeks",
            }
        },
        svc=svc,
        to="Ada@Example.com",
    )
    ((service_id, document),) = store.uploads
    assert service_id == svc["id"]
    assert document == {
        "file": CSV,
        "filename": "a.csv",
        "mime_type": "text/csv",
        "confirm_email_before_download": True,
        "retention_weeks": 4,
        "recipient": "ada@example.com",
    }
    assert "?key=k3y" in accepted.response["content"]["body"]
    assert accepted.response["content"]["body"].startswith(f"Download: {ROOT}d/{svc['id']}/")
    assert accepted.event.personalisation["link"].startswith(f"{ROOT}d/{svc['id']}/")


def test_without_confirmation_no_recipient_is_sent(store: FakeStore) -> None:
    email({"link": {"file": CSV, "filename": "a.csv", "confirm_email_before_download": False}})
    assert store.uploads[0][1]["recipient"] is None
    assert store.uploads[0][1]["confirm_email_before_download"] is False


def test_smoke_test_recipient_gets_a_dummy_link_and_nothing_is_stored(store: FakeStore) -> None:
    svc = service(contact_link="https://example.gov.uk/contact")
    accepted = email({"link": {"file": CSV}}, svc=svc, to="simulate-delivered@notifications.service.gov.uk")
    assert store.uploads == []
    assert accepted.smoke_test
    assert accepted.response["content"]["body"] == f"Download: {ROOT}d/{svc['id']}/test-document"


def test_smoke_test_recipients_are_still_validated(store: FakeStore) -> None:
    assert message_of(
        lambda: email({"link": {"file": 1}}, to="simulate-delivered@notifications.service.gov.uk")
    )[2] == ["file 1 is not of type string"]


def test_service_without_contact_link(store: FakeStore) -> None:
    svc = service()
    assert message_of(lambda: email({"link": {"file": CSV}}, svc=svc)) == (
        400,
        "BadRequestError",
        [
            "Send files by email has not been set up - add contact details for your service at "
            f"https://www.notifications.service.gov.uk/services/{svc['id']}/service-settings/send-files-by-email"
        ],
    )


def test_too_large_and_long_filename_and_store_rejection(store: FakeStore) -> None:
    big = base64.b64encode(b"a" * (2 * 1024 * 1024 + 1)).decode()
    assert message_of(lambda: email({"link": {"file": big, "filename": "a.txt"}}))[1:] == (
        "BadRequestError",
        ["File is larger than 2MB"],
    )
    assert message_of(lambda: email({"link": {"file": CSV, "filename": "a" * 97 + ".csv"}}))[2] == [
        "filename cannot be longer than 100 characters"
    ]
    assert store.uploads == []
    global _store
    _store = FakeStore(reject="File did not pass the virus scan")
    assert message_of(lambda: email({"link": {"file": CSV, "filename": "a.csv"}}))[1:] == (
        "BadRequestError",
        ["File did not pass the virus scan"],
    )


def test_recipient_checks_come_before_files(store: FakeStore) -> None:
    svc = service(restricted=True, contact_link="https://example.gov.uk/contact")
    status, error, messages = message_of(lambda: email({"link": {"file": 1}}, svc=svc))
    assert error == "BadRequestError"
    assert "trial mode" in messages[0]


def test_length_is_checked_after_the_links_go_in(store: FakeStore) -> None:
    tpl = template("email", content="((link))" + "x" * (2_000_000 - 30), subject="s")
    status, error, messages = message_of(
        lambda: prepare_email(
            body={
                "email_address": "ada@example.com",
                "template_id": tpl["id"],
                "personalisation": {"link": {"file": CSV, "filename": "a.csv"}},
            },
            service=service(contact_link="https://example.gov.uk/contact"),
            key=Key("normal"),
            template=tpl,
            root=ROOT,
            email_domain="notify.example",
            document_store=_store,
        )
    )
    assert messages[0].startswith("Your message is too long. Emails cannot be longer than 2000000 bytes.")


def test_sms_and_letter_refuse_files(store: FakeStore) -> None:
    tpl = template("sms", content="Hi ((name))")
    assert message_of(
        lambda: prepare_sms(
            body={
                "phone_number": "07700900123",
                "template_id": tpl["id"],
                "personalisation": {"name": {"file": CSV}},
            },
            service=service(),
            key=Key("normal"),
            template=tpl,
            root=ROOT,
        )
    ) == (400, "BadRequestError", ["Can only send a file by email"])
    letter = template("letter", content="Hi ((name))", subject="s")
    personalisation = {
        "address_line_1": "A Person",
        "address_line_2": "1 Street",
        "address_line_3": "SW1A 1AA",
        "name": {"file": CSV},
    }
    assert message_of(
        lambda: prepare_letter(
            body={"template_id": letter["id"], "personalisation": personalisation},
            service=service(),
            key=Key("test"),
            template=letter,
            root=ROOT,
        )
    ) == (400, "BadRequestError", ["Can only send a file by email"])
    assert store.uploads == []
