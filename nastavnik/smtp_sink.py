"""A local SMTP server that keeps every message it receives as an .eml file."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

logger = logging.getLogger(__name__)

DATA_SIZE_LIMIT = 50 * 1024 * 1024
UNKNOWN_MAILBOXES = "unknown-mailboxes.txt"
"""A file in the sink's directory listing addresses (one per line) the sink answers «550 5.1.1»
for, as a relay does for a mailbox that does not exist (yet): how the demo makes a delivery fail
until the mailbox is created and the operator retries it."""


@dataclass(frozen=True)
class ReceivedMessage:
    """One accepted message: its envelope, raw bytes and where it was saved."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    path: Path


def _slug(text: str, limit: int = 60) -> str:
    """A file-name-safe version of a subject (letters of any script, digits, dashes)."""
    slug = re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE).strip("-._")
    return slug[:limit].rstrip("-._") or "message"


class _SaveHandler:
    """aiosmtpd handler: write the raw DATA to disk and remember the envelope."""

    def __init__(self, directory: Path, *, keep_messages: bool = True) -> None:
        self.directory = directory
        self.keep_messages = keep_messages
        self.messages: list[ReceivedMessage] = []
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def _target(self, data: bytes) -> Path:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(data)
        label = str(headers.get("Subject") or headers.get("Message-ID") or "")
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        with self._lock:
            while True:
                # The counter restarts with the process; never overwrite an earlier run's file.
                path = self.directory / f"{stamp}-{next(self._counter)}-{_slug(label)}.eml"
                if not path.exists():
                    return path

    def save(self, envelope: Envelope) -> ReceivedMessage:
        # original_content is the DATA exactly as received (content may be decoded).
        data = envelope.original_content or b""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._target(data)
        # Write then rename, so a reader never sees half a message.
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        os.replace(partial, path)
        received = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=data,
            path=path,
        )
        if self.keep_messages:
            with self._lock:
                self.messages.append(received)
        return received

    def unknown_mailboxes(self) -> set[str]:
        listed = self.directory / UNKNOWN_MAILBOXES
        try:
            text = listed.read_text(encoding="utf-8")
        except FileNotFoundError:
            return set()
        return {line.strip().lower() for line in text.splitlines() if line.strip()}

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() in self.unknown_mailboxes():
            logger.info("mail sink refused %s: no such mailbox", address)
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        received = await asyncio.get_running_loop().run_in_executor(None, self.save, envelope)
        logger.info("mail sink saved %s for %s", received.path.name, ", ".join(received.rcpt_tos))
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """A Controller that can bind port 0 and then knows which port it got."""

    async def _bind(self) -> asyncio.AbstractServer:
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
        )
        # Before start() triggers the server, which connects to self.port.
        self.port = server.sockets[0].getsockname()[1]
        return server

    def _create_server(self) -> Any:
        return self._bind()


class MailSink:
    """An SMTP sink on 127.0.0.1 saving messages under a directory; port 0 picks a free port.

    It also keeps each message in memory (`messages`, for tests) unless asked not to: a relay
    played by the sink for a simulated department's year receives ≈ 90 000 of them."""

    def __init__(
        self,
        *,
        directory: Path,
        port: int = 0,
        hostname: str = "127.0.0.1",
        keep_messages: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.handler = _SaveHandler(self.directory, keep_messages=keep_messages)
        self._requested_port = port
        self._controller = self._new_controller(hostname, port)
        self._stopped = False

    def _new_controller(self, hostname: str, port: int) -> _Controller:
        return _Controller(
            self.handler,
            hostname=hostname,
            port=port,
            data_size_limit=DATA_SIZE_LIMIT,
            enable_SMTPUTF8=True,
            decode_data=False,
        )

    @property
    def hostname(self) -> str:
        return str(self._controller.hostname)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def url(self) -> str:
        """The smtp:// URL to put in the settings."""
        return f"smtp://{self.hostname}:{self.port}"

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Messages received so far, oldest first."""
        return list(self.handler.messages)

    def start(self) -> MailSink:
        """Start serving in a background thread."""
        port = self._requested_port or self._controller.port
        if self._stopped:
            # A stopped controller's event loop is closed: a relay that comes back (the demo's
            # outage) serves from a new one, on the same port, saving to the same directory.
            self._controller = self._new_controller(self.hostname, port)
            self._stopped = False
        self._controller.port = port
        self._controller.start()
        logger.info("mail sink on %s, saving to %s", self.url, self.directory)
        return self

    def stop(self) -> None:
        """Stop serving and release the port (again: nothing)."""
        if self._stopped:
            return
        self._controller.stop()
        self._stopped = True

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
