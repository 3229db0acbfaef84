"""Every error the content engine raises.

All of them inherit from :class:`ContentError` and carry the user-facing text in ``.message``, worded exactly
as Notify words it, so callers can put ``.message`` straight into an API error envelope.  The class name is
what the public API uses as the ``error`` value where that matters (``InvalidPhoneError``,
``InvalidEmailError``); callers choose the envelope type, not this library.
"""

from __future__ import annotations


class ContentError(Exception):
    """Base class: ``.message`` is the exact user-facing text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- recipients -------------------------------------------------------------------------------------------


class InvalidRecipientError(ContentError):
    """A recipient (phone number, email address or postal address) is not acceptable."""


class InvalidPhoneError(InvalidRecipientError):
    """The phone number cannot be parsed or is of a kind that cannot receive texts."""


class NotAUkMobile(InvalidPhoneError):
    """A UK landline was given but the service cannot text landlines."""

    def __init__(self, message: str = "Not a UK mobile number") -> None:
        super().__init__(message)


class InternationalNotAllowed(InvalidRecipientError):
    """A non-UK number was given but the service lacks the international SMS permission.

    Notify reports this as a ``BadRequestError``, not an ``InvalidPhoneError``, hence the separate branch.
    """

    def __init__(self, message: str = "Cannot send to international mobile numbers") -> None:
        super().__init__(message)


class InvalidEmailError(InvalidRecipientError):
    def __init__(self, message: str = "Not a valid email address") -> None:
        super().__init__(message)


class InvalidAddressError(InvalidRecipientError):
    """A letter address failed one of the checks of public-api.md §5.3 (first failure only)."""


# --- templates ---------------------------------------------------------------------------------------------


class MissingPersonalisation(ContentError):
    """One or more placeholders have no value.  ``.names`` lists them in template order."""

    def __init__(self, names: list[str]) -> None:
        super().__init__("Missing personalisation: " + ", ".join(names))
        self.names = list(names)


class MessageEmpty(ContentError):
    def __init__(self, message: str = "Your message is empty.") -> None:
        super().__init__(message)


class MessageTooLong(ContentError):
    """Over the channel limit.  ``.size`` is the measured length (characters for SMS, bytes for email)."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size

    @classmethod
    def sms(cls, characters: int) -> MessageTooLong:
        return cls(
            "Your message is too long. Text messages cannot be longer than 918 characters. "
            f"Your message is {characters} characters long.",
            characters,
        )

    @classmethod
    def email(cls, size_in_bytes: int) -> MessageTooLong:
        return cls(
            "Your message is too long. Emails cannot be longer than 2000000 bytes. "
            f"Your message is {size_in_bytes} bytes.",
            size_in_bytes,
        )


class QrCodeTooLong(ContentError):
    """A letter ``qr:`` paragraph holds more data than fits in a printable QR code."""

    def __init__(self, data: str, num_bytes: int, max_bytes: int) -> None:
        super().__init__("Cannot create a usable QR code - the link is too long")
        self.data = data
        self.num_bytes = num_bytes
        self.max_bytes = max_bytes


# --- letters -------------------------------------------------------------------------------------------------


class LetterTooLong(ContentError):
    """A rendered or precompiled letter has more pages than the printer accepts."""


class PdfValidationError(ContentError):
    """A precompiled PDF does not meet the letter specification.  ``.code`` is a stable machine-readable key."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
