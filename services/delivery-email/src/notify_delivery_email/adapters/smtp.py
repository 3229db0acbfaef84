"""The SMTP relay, through a bounded pool of persistent aiosmtplib connections; errors sorted into permanent and
retryable.

A connection is opened (EHLO, STARTTLS and login once) when no idle one is free, and reused for many messages.
It is dropped when the server closes it, after a timeout or a connection problem (the protocol may be out of
step), after ``max_messages`` messages, and when it has been idle for ``idle_seconds``. A reply refusing one
message (4xx/5xx) leaves the connection usable: aiosmtplib resets the envelope (RSET); after a ``421`` (the server
is closing the channel) it is dropped.
A message that finds its pooled connection already closed by the server (or closing: ``421``) is sent once more on a
new connection.

Each send is counted in ``notify_provider_calls_total`` (provider ``smtp`` unless named otherwise; outcome ok,
rejected: refused for good, error: may go through later, timeout) and timed in ``notify_provider_call_seconds``
from when it has a pool slot (the time spent waiting for one is ours, not the relay's).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib
from notify_platform.metrics import ProviderCallMetrics, provider_outcome


class SmtpError(Exception):
    """A send the relay did not accept. ``retryable``: 4xx replies, timeouts and connection problems.
    ``timed_out``: the relay did not answer in time."""

    def __init__(
        self, message: str, *, retryable: bool, code: int | None = None, timed_out: bool = False
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code
        self.timed_out = timed_out

    @property
    def outcome(self) -> str:
        """How ``notify_provider_calls_total`` counts it."""
        return provider_outcome(retryable=self.retryable, timed_out=self.timed_out)


@dataclass
class _Connection:
    smtp: aiosmtplib.SMTP
    sent: int = 0
    idle_since: float = 0.0


CLOSING = 421  # "service not available, closing transmission channel"
# Raised when a pooled connection turns out to have been closed by the server while it sat idle.
_STALE = (aiosmtplib.SMTPServerDisconnected, ConnectionError)


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
        pool_size: int = 25,
        idle_seconds: float = 30.0,
        max_messages: int = 100,
        name: str = "smtp",
    ) -> None:
        self.host = host
        self.port = port
        self.username = username or None
        self.password = password or None
        self.starttls = starttls
        self.timeout = timeout
        self.pool_size = pool_size
        self.idle_seconds = idle_seconds
        self.max_messages = max_messages
        self.opened = 0  # connections opened so far (for tests and diagnostics)
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: list[_Connection] = []  # oldest first; the newest is reused first
        self._local_hostname: str | None = None
        self._reaper: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._metrics = ProviderCallMetrics(name)

    async def send(self, message: EmailMessage) -> None:
        async with self._slots:
            with self._metrics.call():
                await self._send_classified(message)

    async def _send_classified(self, message: EmailMessage) -> None:
        try:
            await self._send_pooled(message)
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
            # aiosmtplib's timeouts (connect, read) are TimeoutErrors too.
            raise SmtpError(
                type(exc).__name__, retryable=True, timed_out=isinstance(exc, TimeoutError)
            ) from None

    async def aclose(self) -> None:
        """Close every idle connection (QUIT) and wait for the ones already closing."""
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        idle, self._idle = self._idle, []
        for conn in idle:
            self._discard(conn)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    # --- the pool -----------------------------------------------------------------------------------
    async def _send_pooled(self, message: EmailMessage) -> None:
        conn = self._take_idle()
        if conn is not None:
            try:
                await self._send_on(conn, message)
                return
            except _STALE:
                pass  # closed by the server while idle: once more, on a new connection
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code != CLOSING:
                    raise
                # The server timed the idle connection out (421) just as it was reused: likewise.
        await self._send_on(await self._open(), message)

    async def _send_on(self, conn: _Connection, message: EmailMessage) -> None:
        try:
            await conn.smtp.send_message(message)
        except aiosmtplib.SMTPResponseException as exc:
            # The server answered; aiosmtplib has reset the envelope, so the connection can take the next message,
            # unless the reply was 421 (the server is closing the channel).
            if exc.code == CLOSING:
                self._discard(conn)
            else:
                self._release(conn)
            raise
        except aiosmtplib.SMTPRecipientsRefused:
            self._release(conn)
            raise
        except BaseException:
            conn.smtp.close()  # a timeout or a broken connection: the protocol may be out of step
            raise
        conn.sent += 1
        self._release(conn)

    async def _open(self) -> _Connection:
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            start_tls=self.starttls,
            use_tls=False,
            timeout=self.timeout,
            local_hostname=self._local_hostname,
        )
        await smtp.connect()  # STARTTLS and login, when configured, happen here, once per connection
        self._local_hostname = smtp.local_hostname  # looked up once (socket.getfqdn), not per connection
        self.opened += 1
        return _Connection(smtp)

    def _take_idle(self) -> _Connection | None:
        self._drop_expired()
        while self._idle:
            conn = self._idle.pop()
            if conn.smtp.is_connected:
                return conn
        return None

    def _release(self, conn: _Connection) -> None:
        if not conn.smtp.is_connected:
            return
        if conn.sent >= self.max_messages:
            self._discard(conn)
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().call_later(self.idle_seconds, self._reap)

    def _reap(self) -> None:
        self._reaper = None
        self._drop_expired()
        if self._idle:
            wait = self._idle[0].idle_since + self.idle_seconds - time.monotonic()
            self._reaper = asyncio.get_running_loop().call_later(max(wait, 0.1), self._reap)

    def _drop_expired(self) -> None:
        deadline = time.monotonic() - self.idle_seconds
        while self._idle and (self._idle[0].idle_since <= deadline or not self._idle[0].smtp.is_connected):
            self._discard(self._idle.pop(0))

    def _discard(self, conn: _Connection) -> None:
        if not conn.smtp.is_connected:
            return
        task = asyncio.get_running_loop().create_task(self._quit(conn.smtp))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _quit(self, smtp: aiosmtplib.SMTP) -> None:
        try:
            await smtp.quit(timeout=min(self.timeout, 5.0))
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        finally:
            smtp.close()
