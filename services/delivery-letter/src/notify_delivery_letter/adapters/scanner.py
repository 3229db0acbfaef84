"""Virus scanning of precompiled PDFs, behind one small interface.

``EicarScanner`` (the only built-in scanner) is **not an antivirus**: it recognises the EICAR anti-malware test
signature and nothing else, so the virus-scan path can be exercised end to end. A real deployment plugs in a real
scanner (e.g. an adapter that streams the bytes to ClamAV's clamd ``INSTREAM``) behind ``VirusScanner``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The 68-byte EICAR test file (https://www.eicar.org/download-anti-malware-testfile/), split so that this source
# file itself is not flagged by scanners.
EICAR_SIGNATURE = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@dataclass(frozen=True)
class ScanResult:
    infected: bool
    signature: str | None = None  # the name of what was found (logged; it holds no personal data)


class ScannerUnavailable(Exception):
    """The scanner could not give a verdict (retried: a letter is never passed unscanned)."""


class VirusScanner(Protocol):
    name: str

    async def scan(self, data: bytes) -> ScanResult: ...


class EicarScanner:
    """Flags content holding the EICAR test signature anywhere in it; passes everything else."""

    name = "eicar"

    async def scan(self, data: bytes) -> ScanResult:
        if EICAR_SIGNATURE in data:
            return ScanResult(infected=True, signature="EICAR-Test-File")
        return ScanResult(infected=False)


def build_scanner(name: str) -> VirusScanner:
    if name == "eicar":
        return EicarScanner()
    raise ValueError(f"unknown virus scanner {name!r}")
