"""The expiry of an X.509 certificate, read from its DER bytes (what a TLS handshake
hands over) with a small DER reader: no crypto library needed to count days left.

Certificate ::= SEQUENCE { tbsCertificate, … }; TBSCertificate ::= SEQUENCE { [0] version
OPTIONAL, serialNumber, signature, issuer, validity, … }; Validity ::= SEQUENCE
{ notBefore Time, notAfter Time }; Time ::= UTCTime | GeneralizedTime (RFC 5280 4.1).
"""

from __future__ import annotations

from datetime import UTC, datetime

_SEQUENCE, _UTC_TIME, _GENERALIZED_TIME, _VERSION = 0x30, 0x17, 0x18, 0xA0


class BadCertificate(ValueError):
    """Bytes that are not a DER certificate this reader follows."""


def _element(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at offset `at`."""
    if at + 2 > len(data):
        raise BadCertificate("truncated")
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4 or at + count > len(data):
            raise BadCertificate("bad length")
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    if at + length > len(data):
        raise BadCertificate("truncated")
    return tag, at, at + length


def not_after(der: bytes) -> datetime:
    """When the certificate expires (UTC); BadCertificate for anything else."""
    tag, start, _ = _element(der, 0)
    if tag != _SEQUENCE:
        raise BadCertificate("not a certificate")
    tag, at, end = _element(der, start)  # tbsCertificate
    if tag != _SEQUENCE:
        raise BadCertificate("no tbsCertificate")
    fields: list[tuple[int, int, int]] = []
    while at < end and len(fields) < 6:
        tag, content, after = _element(der, at)
        fields.append((tag, content, after))
        at = after
    if fields and fields[0][0] == _VERSION:
        fields = fields[1:]
    if len(fields) < 4 or fields[3][0] != _SEQUENCE:
        raise BadCertificate("no validity")
    _, content, after = fields[3]
    _, _, before_end = _element(der, content)  # notBefore
    tag, start, stop = _element(der, before_end)  # notAfter
    return _time(tag, der[start:stop].decode("ascii", "replace"))


def _time(tag: int, text: str) -> datetime:
    if not text.endswith("Z"):
        raise BadCertificate(f"time {text!r} is not UTC")
    try:
        if tag == _UTC_TIME:  # YYMMDDHHMMSSZ; 50-99 are 19xx (RFC 5280 4.1.2.5.1)
            moment = datetime.strptime(text, "%y%m%d%H%M%SZ")
            year = moment.year % 100
            moment = moment.replace(year=(1900 if year >= 50 else 2000) + year)
        elif tag == _GENERALIZED_TIME:
            moment = datetime.strptime(text, "%Y%m%d%H%M%SZ")
        else:
            raise BadCertificate("no time")
    except ValueError:
        raise BadCertificate(f"bad time {text!r}") from None
    return moment.replace(tzinfo=UTC)
