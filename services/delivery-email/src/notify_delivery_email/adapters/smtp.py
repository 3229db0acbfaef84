"""The SMTP relay: one message per call through aiosmtplib; errors sorted into permanent and retryable."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib


class SmtpError(Exception):
    """A send the relay did not accept. ``retryable``: 4xx replies, timeouts and connection problems."""

    def __init__(self, message: str, *, retryable: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username or None
        self.password = password or None
        self.starttls = starttls
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.starttls,
                use_tls=False,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            permanent = bool(codes) and all(code >= 500 for code in codes)
            raise SmtpError(
                f"recipient refused ({', '.join(map(str, codes))})", retryable=not permanent, code=max(codes)
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            # Only the reply code is kept: the server's text may echo addresses.
            raise SmtpError(f"SMTP {exc.code}", retryable=exc.code < 500, code=exc.code) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SmtpError(type(exc).__name__, retryable=True) from None
