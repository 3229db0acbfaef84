"""Checking and preparing the rows of a batch-send file (admin-api.md §8; behaviour.md §2, §3, §7).

The file's rows come from :func:`notify_jobs.domain.spreadsheet.read_rows` (header first, all cells text).

* :class:`ColumnMap` maps the header to the recipient column(s), the optional ``reference`` column and the
  personalisation. Column names match ignoring case, spaces, ``_`` and ``-`` (:func:`normalise_key`).
* :func:`prepare_row` / :class:`RowPreparer` turn one data row into a :class:`PreparedRow` holding exactly the
  values the API gateway computes for one API request (recipient, normalised recipient, body, subject,
  billable units, international, phone prefix, rate multiplier, address lines, postage), or into the row's
  problems (:class:`RowError`).
* :class:`FileChecker` checks a whole file before a job is created and reports file-level problems
  (:class:`FileError`) and row problems; :func:`iter_prepared` walks an already-checked file for processing.

Row numbering, the same everywhere:

* ``spreadsheet_row`` is the row number the user sees in their spreadsheet: the header is row 1, the first data
  row is row 2. Empty rows still take a number. :attr:`RowError.row` is a spreadsheet row number.
* ``job_row_number`` is Notify's ``job_row_number``: the 0-based index of the row among the *counted* data rows.
  Entirely empty rows are skipped and not counted (as Notify does), so the numbers run ``0 …
  notification_count - 1`` without gaps, which is what the "every row has a notification" reconciliation needs.

CSV-specific rules (where a file differs from an API request):

* An empty (or whitespace-only) cell in a column the template uses counts as missing (``Missing ‘name’``), as
  on Notify's check page; an API request may send ``""``. Conditional placeholders ``((name??text))`` need a
  value too (the content engine requires it), so their cells must not be empty either.
* An empty recipient cell is reported as missing rather than with the validator's message.
* Letters: the address is read from the non-empty address cells, so an empty ``address line 7`` lets
  ``postcode`` stand in for it (the engine only uses ``postcode`` when there is no line 7 at all).
* Every named column is personalisation, keyed by its header as written (the recipient and reference columns
  included); columns without a header are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from notify_content.errors import ContentError, InvalidRecipientError, MessageEmpty
from notify_content.keys import normalise_key
from notify_content.recipients import (
    check_phone_permissions,
    is_smoke_test_recipient,
    validate_address,
    validate_email_address,
    validate_phone_number,
)
from notify_content.templates import EmailTemplate, LetterTemplate, RenderedEmail, SmsTemplate

SMS, EMAIL, LETTER = "sms", "email", "letter"
TEMPLATE_TYPES = (SMS, EMAIL, LETTER)
RECIPIENT_COLUMNS = {SMS: "phone number", EMAIL: "email address"}
ADDRESS_COLUMNS = (*(f"address line {n}" for n in range(1, 8)), "postcode")
REFERENCE_COLUMN = "reference"
MIN_ADDRESS_COLUMNS = 3
DEFAULT_MAX_ROWS = 100_000
DEFAULT_MAX_REPORTED_ERRORS = 1000

TRIAL_MESSAGE = (
    "Can’t send to this recipient when service is in trial mode – see "
    "https://www.notifications.service.gov.uk/trial-mode"
)
TRIAL_CODE = "not_allowed_in_trial_mode"

_ADDRESS_KEYS = tuple(normalise_key(name) for name in ADDRESS_COLUMNS)
_ADDRESS_LINE_1_KEY = _ADDRESS_KEYS[0]
_REFERENCE_KEY = normalise_key(REFERENCE_COLUMN)


# --- problems ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileError:
    """A problem with the file as a whole. ``code`` is stable; ``message`` is for the user."""

    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": None, "column": None, "code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem with one row: ``row`` is the spreadsheet row number (header = 1), ``column`` a header or None."""

    row: int
    column: str | None
    message: str
    code: str = "invalid_row"

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "code": self.code, "message": self.message}


def _quoted(name: str) -> str:
    return f"‘{name}’"


def missing_recipient_column(template_type: str) -> FileError:
    if template_type == LETTER:
        return FileError(
            "missing_address_columns",
            "Your file needs a column called ‘address line 1’ and at least 2 more address columns, for example "
            "‘address line 2’ and ‘postcode’.",
        )
    return FileError(
        "missing_recipient_column",
        f"Your file needs a column called {_quoted(RECIPIENT_COLUMNS[template_type])}.",
    )


def missing_column(name: str) -> FileError:
    return FileError("missing_column", f"Your file is missing a column called {_quoted(name)}.")


def duplicate_column(name: str) -> FileError:
    return FileError("duplicate_column", f"Your file has more than one column called {_quoted(name)}.")


EMPTY_FILE = FileError("empty_file", "Your file is empty.")
NO_DATA_ROWS = FileError("no_rows", "Your file needs at least one row of data.")


def too_many_rows(max_rows: int, count: int) -> FileError:
    return FileError(
        "too_many_rows",
        f"Your file has too many rows. Notify can process up to {max_rows:,} rows at once. "
        f"Your file has {count:,} rows.",
    )


def missing_value(row: int, column: str) -> RowError:
    return RowError(row, column, f"Missing {_quoted(column)}", "missing_value")


# --- inputs --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateInfo:
    """The template version a job sends. ``sms_prefix`` is the service name when the service prefixes its
    texts, else None; ``postage`` is the letter template's postage (None: ``second``)."""

    template_type: str
    content: str
    subject: str | None = None
    sms_prefix: str | None = None
    letter_contact_block: str | None = None
    postage: str | None = None
    # A contact list: rows are checked for their recipients only (there is no template to render yet).
    recipients_only: bool = False

    def __post_init__(self) -> None:
        if self.template_type not in TEMPLATE_TYPES:
            raise ValueError(f"unknown template type {self.template_type!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceRules:
    """What the service may send to. ``allowed_recipients`` (used when ``restricted``, i.e. in trial mode) holds
    the normalised phone numbers / email addresses of the team and the guest list."""

    allow_international_sms: bool
    allow_sms_to_uk_landlines: bool
    allow_international_letters: bool
    restricted: bool
    allowed_recipients: frozenset[str] = frozenset()


# --- header --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Where things are in a file's rows, from its header."""

    template_type: str
    headers: tuple[str, ...]  # as written, trimmed
    indexes: dict[str, int]  # normalised name -> index of its first column
    recipient_index: int | None  # sms / email
    address_indexes: tuple[tuple[str, int], ...]  # letters: (header, index) of the address columns present
    reference_index: int | None
    personalisation: tuple[tuple[str, int], ...]  # (header as written, index), every named column once
    duplicates: tuple[str, ...]  # headers named more than once (first spelling)

    @classmethod
    def from_header(cls, header: Sequence[str], template_type: str) -> ColumnMap:
        headers = tuple(cell.strip() for cell in header)
        indexes: dict[str, int] = {}
        duplicates: list[str] = []
        for index, name in enumerate(headers):
            key = normalise_key(name)
            if not key:
                continue
            if key in indexes:
                first = headers[indexes[key]]
                if first not in duplicates:
                    duplicates.append(first)
            else:
                indexes[key] = index
        recipient_key = normalise_key(RECIPIENT_COLUMNS.get(template_type, ""))
        return cls(
            template_type=template_type,
            headers=headers,
            indexes=indexes,
            recipient_index=indexes.get(recipient_key) if recipient_key else None,
            address_indexes=tuple(
                (headers[indexes[key]], indexes[key]) for key in _ADDRESS_KEYS if key in indexes
            )
            if template_type == LETTER
            else (),
            reference_index=indexes.get(_REFERENCE_KEY),
            personalisation=tuple((headers[index], index) for index in indexes.values()),
            duplicates=tuple(duplicates),
        )

    @property
    def has_recipient_columns(self) -> bool:
        if self.template_type == LETTER:
            return _ADDRESS_LINE_1_KEY in self.indexes and len(self.address_indexes) >= MIN_ADDRESS_COLUMNS
        return self.recipient_index is not None

    def recipient_keys(self) -> frozenset[str]:
        if self.template_type == LETTER:
            return frozenset(_ADDRESS_KEYS)
        return frozenset({normalise_key(RECIPIENT_COLUMNS[self.template_type])})

    def problems(self, placeholders: Iterable[str]) -> list[FileError]:
        """File-level problems visible in the header: recipient columns, template columns, duplicates."""
        problems: list[FileError] = []
        if not self.has_recipient_columns:
            problems.append(missing_recipient_column(self.template_type))
            covered = self.recipient_keys()
        else:
            covered = frozenset()
        for name in placeholders:
            key = normalise_key(name)
            if key not in self.indexes and key not in covered:
                problems.append(missing_column(name))
        problems.extend(duplicate_column(name) for name in self.duplicates)
        return problems


def header_problems(header: Sequence[str], template: TemplateInfo) -> list[FileError]:
    return ColumnMap.from_header(header, template.template_type).problems(_engine(template).placeholders)


# --- one row -------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class PreparedRow:
    """One data row ready to become a ``notification.requested`` event.

    ``job_row_number`` is Notify's 0-based ``job_row_number`` (index among counted data rows);
    ``spreadsheet_row`` the row number in the file (header = 1). ``allowed`` is False when trial mode forbids
    the recipient: processing skips such rows silently, the checker reports them.
    """

    job_row_number: int
    spreadsheet_row: int
    recipient: str
    normalised_recipient: str
    personalisation: dict[str, str]
    client_reference: str | None
    body: str
    subject: str | None
    billable_units: int
    international: bool = False
    phone_prefix: str | None = None
    rate_multiplier: float | None = None
    address_lines: list[str] | None = None
    postage: str | None = None
    smoke_test: bool = False
    allowed: bool = True


@dataclass(frozen=True, slots=True)
class RowFailure:
    """A row of an already-checked file that no longer passes (see :func:`iter_prepared`)."""

    job_row_number: int
    spreadsheet_row: int
    errors: tuple[RowError, ...]


@lru_cache(maxsize=64)
def _engine(template: TemplateInfo) -> SmsTemplate | EmailTemplate | LetterTemplate:
    """One content-engine template per template version, so its parsed placeholders (and the email skeleton)
    are reused for every row."""
    if template.template_type == SMS:
        return SmsTemplate(template.content, prefix=template.sms_prefix)
    if template.template_type == EMAIL:
        return EmailTemplate(template.subject or "", template.content)
    return LetterTemplate(template.subject or "", template.content, template.letter_contact_block)


@dataclass(frozen=True, slots=True)
class _NoContent:
    body: str = ""
    subject: str | None = None
    fragment_count: int = 0


_NO_CONTENT = _NoContent()


class RowPreparer:
    """Prepares the data rows of one file: the header and template are worked out once."""

    def __init__(self, columns: ColumnMap, template: TemplateInfo, rules: ServiceRules) -> None:
        if columns.template_type != template.template_type:
            raise ValueError("the column map was made for another template type")
        self.columns = columns
        self.template = template
        self.rules = rules
        self.engine = _engine(template)
        self.file_problems = columns.problems(self.engine.placeholders)
        # Template placeholders that have a column: (header, index).
        self._placeholder_columns = tuple(
            (columns.headers[columns.indexes[key]], columns.indexes[key])
            for key in dict.fromkeys(map(normalise_key, self.engine.placeholders))
            if key in columns.indexes
        )
        self._personalisation = columns.personalisation
        self.recipient_column = (
            columns.headers[columns.recipient_index] if columns.recipient_index is not None else None
        )

    def prepare(
        self, cells: Sequence[str], *, job_row_number: int, spreadsheet_row: int
    ) -> PreparedRow | list[RowError]:
        """The prepared row, or its problems (never both). A trial-mode refusal alone gives a PreparedRow with
        ``allowed=False``; with other problems it is listed among them."""
        if self.file_problems:
            raise ValueError("the file's header has problems; rows cannot be prepared")
        row = spreadsheet_row
        personalisation = {header: cells[index] for header, index in self._personalisation}
        reference_index = self.columns.reference_index
        reference = cells[reference_index].strip() if reference_index is not None else ""
        errors: list[RowError] = []
        kind = self.template.template_type
        if kind == LETTER:
            recipient = self._letter_recipient(cells, row, errors)
        else:
            recipient = self._recipient(cells, row, errors)
        for header, index in self._placeholder_columns:
            if not cells[index].strip():
                errors.append(missing_value(row, header))
        if errors:
            rendered = None
        elif self.template.recipients_only:
            rendered = _NO_CONTENT
        else:
            rendered = self._render(personalisation, row, errors)
        if errors or rendered is None or recipient is None:
            if recipient is not None and not recipient.allowed:
                errors.insert(0, RowError(row, self.recipient_column, TRIAL_MESSAGE, TRIAL_CODE))
            return errors
        prepared = PreparedRow(
            job_row_number=job_row_number,
            spreadsheet_row=spreadsheet_row,
            recipient=recipient.recipient,
            normalised_recipient=recipient.normalised,
            personalisation=personalisation,
            client_reference=reference or None,
            body=rendered.body,
            subject=getattr(rendered, "subject", None),
            billable_units=getattr(rendered, "fragment_count", 0),
            international=recipient.international,
            phone_prefix=recipient.phone_prefix,
            rate_multiplier=recipient.rate_multiplier,
            address_lines=recipient.address_lines,
            postage=recipient.postage,
            smoke_test=recipient.smoke_test,
            allowed=recipient.allowed,
        )
        return prepared

    def _recipient(self, cells: Sequence[str], row: int, errors: list[RowError]) -> _Recipient | None:
        header = self.recipient_column
        assert header is not None and self.columns.recipient_index is not None
        value = cells[self.columns.recipient_index].strip()
        if not value:
            errors.append(missing_value(row, header))
            return None
        rules = self.rules
        try:
            if self.template.template_type == SMS:
                phone = validate_phone_number(value)
                recipient = _Recipient(
                    value,
                    phone.normalised,
                    international=phone.international,
                    phone_prefix=phone.country_prefix,
                    rate_multiplier=phone.rate_multiplier,
                )
            else:
                email = validate_email_address(value)
                recipient = _Recipient(value, email.normalised)
        except InvalidRecipientError as exc:
            errors.append(RowError(row, header, exc.message, "invalid_recipient"))
            return None
        recipient.smoke_test = is_smoke_test_recipient(recipient.normalised)
        if rules.restricted and recipient.normalised not in rules.allowed_recipients:
            # The gateway's order: the trial-mode refusal comes before the permission checks.
            recipient.allowed = False
            return recipient
        if self.template.template_type == SMS:
            try:
                check_phone_permissions(
                    phone,
                    allow_international=rules.allow_international_sms,
                    allow_landlines=rules.allow_sms_to_uk_landlines,
                )
            except InvalidRecipientError as exc:
                errors.append(RowError(row, header, exc.message, "recipient_not_allowed"))
                return None
        return recipient

    def _letter_recipient(self, cells: Sequence[str], row: int, errors: list[RowError]) -> _Recipient | None:
        address_values = {
            header: cells[index] for header, index in self.columns.address_indexes if cells[index].strip()
        }
        try:
            address = validate_address(
                address_values, allow_international_letters=self.rules.allow_international_letters
            )
        except InvalidRecipientError as exc:
            errors.append(RowError(row, None, exc.message, "invalid_address"))
            return None
        return _Recipient(
            "\n".join(address.lines),
            address.as_single_line,
            address_lines=list(address.lines),
            postage=address.postage_zone if address.international else (self.template.postage or "second"),
        )

    def _render(self, personalisation: dict[str, str], row: int, errors: list[RowError]) -> Any:
        engine = self.engine
        try:
            if isinstance(engine, LetterTemplate):
                return engine.render(personalisation)
            if isinstance(engine, EmailTemplate):
                rendered = render_email_text(engine, personalisation)
            else:
                rendered = engine.render(personalisation, check_length=False)
            rendered.check_length()
            return rendered
        except ContentError as exc:
            errors.append(RowError(row, None, exc.message, _content_code(exc)))
            return None


def render_email_text(template: EmailTemplate, personalisation: dict[str, str]) -> RenderedEmail:
    """``template.render(personalisation, check_length=False)`` without the HTML and text parts.

    A job needs only the subject and the markdown body (delivery renders the HTML later); building and
    sanitising the HTML is ~90% of the cost of a full render, and a file has up to 100,000 rows. This uses the
    engine's own filling steps, in the order ``EmailTemplate.render`` uses them (missing values, then empty
    body), so the results are the same (tests/test_rows.py compares the two). The engine would do better to
    offer this itself.
    """
    values = template._values(personalisation)
    body = template._fill(template.content, values)
    if not body.strip():
        raise MessageEmpty()
    return RenderedEmail(
        subject=template._fill_subject(template.subject, values), body=body, html="", text=""
    )


def _content_code(exc: ContentError) -> str:
    name = type(exc).__name__
    return {
        "MessageTooLong": "message_too_long",
        "MessageEmpty": "message_empty",
        "QrCodeTooLong": "qr_code_too_long",
        "MissingPersonalisation": "missing_value",
    }.get(name, "invalid_content")


@dataclass(slots=True)
class _Recipient:
    recipient: str
    normalised: str
    international: bool = False
    phone_prefix: str | None = None
    rate_multiplier: float | None = None
    address_lines: list[str] | None = None
    postage: str | None = None
    smoke_test: bool = False
    allowed: bool = True


def prepare_row(
    columns: ColumnMap,
    cells: Sequence[str],
    *,
    template: TemplateInfo,
    rules: ServiceRules,
    job_row_number: int,
    spreadsheet_row: int,
) -> PreparedRow | list[RowError]:
    """One row on its own (see :meth:`RowPreparer.prepare`); for many rows make one :class:`RowPreparer`."""
    return RowPreparer(columns, template, rules).prepare(
        cells, job_row_number=job_row_number, spreadsheet_row=spreadsheet_row
    )


def trial_mode_error(prepared: PreparedRow, column: str | None) -> RowError:
    return RowError(prepared.spreadsheet_row, column, TRIAL_MESSAGE, TRIAL_CODE)


def is_blank(cells: Sequence[str]) -> bool:
    """An entirely empty row: skipped and not counted, by the checker and by processing alike."""
    return not any(cell.strip() for cell in cells)


# --- whole file: check ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckReport:
    notification_count: int  # counted data rows (entirely empty rows are not counted)
    valid: bool  # no problem at all
    errors: list[FileError | RowError]  # file problems first, then row problems in row order; maybe truncated
    error_count: int  # every problem, including those left out of ``errors``
    errors_truncated: bool
    rows_with_errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "notification_count": self.notification_count,
            "valid": self.valid,
            "errors": [error.as_dict() for error in self.errors],
            "error_count": self.error_count,
            "errors_truncated": self.errors_truncated,
            "rows_with_errors": self.rows_with_errors,
        }


class FileChecker:
    """Checks a file row by row in constant memory: call :meth:`header`, then :meth:`row` for each data row in
    order, then :meth:`report`.

    Rows past ``max_rows`` are counted (so the too-many-rows message can say how many) but not checked. When
    the header has problems the rows are counted but not checked either: every row would fail the same way.
    """

    def __init__(
        self,
        template: TemplateInfo,
        rules: ServiceRules,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_reported_errors: int = DEFAULT_MAX_REPORTED_ERRORS,
    ) -> None:
        self.template = template
        self.rules = rules
        self.max_rows = max_rows
        self.max_reported_errors = max_reported_errors
        self._preparer: RowPreparer | None = None
        self._file_problems: list[FileError] = []
        self._row_errors: list[RowError] = []
        self._row_error_count = 0
        self._rows_with_errors = 0
        self._seen_header = False
        self._spreadsheet_row = 1
        self._count = 0

    def header(self, cells: Sequence[str]) -> None:
        if self._seen_header:
            raise RuntimeError("header() called twice")
        self._seen_header = True
        columns = ColumnMap.from_header(cells, self.template.template_type)
        self._preparer = RowPreparer(columns, self.template, self.rules)
        self._file_problems = list(self._preparer.file_problems)

    def row(self, cells: Sequence[str]) -> None:
        if not self._seen_header:
            raise RuntimeError("row() called before header()")
        self._spreadsheet_row += 1
        if is_blank(cells):
            return
        job_row_number = self._count
        self._count += 1
        if self._file_problems or self._count > self.max_rows:
            return
        assert self._preparer is not None
        result = self._preparer.prepare(
            cells, job_row_number=job_row_number, spreadsheet_row=self._spreadsheet_row
        )
        if isinstance(result, PreparedRow):
            if result.allowed:
                return
            result = [trial_mode_error(result, self._preparer.recipient_column)]
        self._rows_with_errors += 1
        self._row_error_count += len(result)
        room = self.max_reported_errors - len(self._row_errors)
        if room > 0:
            self._row_errors.extend(result[:room])

    def feed(self, rows: Iterable[Sequence[str]]) -> CheckReport:
        """Check every row of ``rows`` (header first) and report."""
        iterator = iter(rows)
        header = next(iterator, None)
        if header is not None:
            self.header(header)
            for cells in iterator:
                self.row(cells)
        return self.report()

    def report(self) -> CheckReport:
        file_problems = list(self._file_problems)
        if not self._seen_header:
            file_problems.append(EMPTY_FILE)
        elif self._count == 0:
            file_problems.append(NO_DATA_ROWS)
        elif self._count > self.max_rows:
            file_problems.append(too_many_rows(self.max_rows, self._count))
        error_count = len(file_problems) + self._row_error_count
        errors: list[FileError | RowError] = [*file_problems, *self._row_errors][: self.max_reported_errors]
        return CheckReport(
            notification_count=self._count,
            valid=error_count == 0,
            errors=errors,
            error_count=error_count,
            errors_truncated=error_count > len(errors),
            rows_with_errors=self._rows_with_errors,
        )


def check_file(
    rows: Iterable[Sequence[str]],
    template: TemplateInfo,
    rules: ServiceRules,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_reported_errors: int = DEFAULT_MAX_REPORTED_ERRORS,
) -> CheckReport:
    return FileChecker(template, rules, max_rows=max_rows, max_reported_errors=max_reported_errors).feed(rows)


# --- whole file: processing ----------------------------------------------------------------------------------


class JobFileInvalid(Exception):
    """The stored file of a job fails file-level checks (it was checked at upload, so this means it changed or
    the rules did)."""

    def __init__(self, problems: Sequence[FileError]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = list(problems)


def iter_prepared(
    rows: Iterable[Sequence[str]],
    template: TemplateInfo,
    rules: ServiceRules,
    *,
    start_row: int = 0,
) -> Iterator[PreparedRow | RowFailure]:
    """The rows of a job's (already-checked) file, for processing, in order.

    Empty rows are skipped exactly as :class:`FileChecker` skips them, so ``job_row_number`` agrees with the
    check's ``notification_count``. Yields a :class:`PreparedRow` per counted row (``allowed=False`` for a
    trial-mode recipient: the caller skips it) or, for a row that no longer passes (the template or the
    service's permissions changed since the check), a :class:`RowFailure` with its problems: never dropped
    silently, so the caller can record or report it. Rows with ``job_row_number < start_row`` are skipped
    without being prepared (to resume a job). Raises :class:`JobFileInvalid` before yielding anything when the
    file is empty or its header has problems. The row limit is the checker's job and is not applied here.
    """
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None:
        raise JobFileInvalid([EMPTY_FILE])
    preparer = RowPreparer(ColumnMap.from_header(header, template.template_type), template, rules)
    if preparer.file_problems:
        raise JobFileInvalid(preparer.file_problems)
    spreadsheet_row = 1
    job_row_number = -1
    for cells in iterator:
        spreadsheet_row += 1
        if is_blank(cells):
            continue
        job_row_number += 1
        if job_row_number < start_row:
            continue
        result = preparer.prepare(cells, job_row_number=job_row_number, spreadsheet_row=spreadsheet_row)
        if isinstance(result, PreparedRow):
            yield result
        else:
            yield RowFailure(job_row_number, spreadsheet_row, tuple(result))


__all__ = [
    "CheckReport",
    "ColumnMap",
    "FileChecker",
    "FileError",
    "JobFileInvalid",
    "PreparedRow",
    "RowError",
    "RowFailure",
    "RowPreparer",
    "ServiceRules",
    "TemplateInfo",
    "check_file",
    "header_problems",
    "is_blank",
    "iter_prepared",
    "prepare_row",
]
