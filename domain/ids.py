"""Checking applicants' ids where they enter: resident id numbers (居民身份证号码,
ISO 7064 MOD 11-2) and unified social credit codes (统一社会信用代码, GB 32100-2015).

Each failure says which rule failed, so a window clerk or an import file's author
can fix the right character. The checks use ``python-stdnum`` plus what it lacks
(a birth date in the future is accepted by stdnum and refused here).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc

from domain.timezone import cst_date

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


class InvalidId(ValueError):
    """An id that fails a rule; the message names the rule."""


def check_resident_id(value: str, *, today: date | None = None) -> str:
    """A valid 18-character resident id number, upper-cased, or :class:`InvalidId`."""
    number = value.strip().upper()
    if len(number) != 18:
        raise InvalidId(f"resident id must have 18 characters, got {len(number)}")
    if not number[:17].isdigit():
        raise InvalidId("resident id: the first 17 characters must be digits")
    if not (number[17].isdigit() or number[17] == "X"):
        raise InvalidId("resident id: the check character must be a digit or X")
    try:
        birth = ric.get_birth_date(number)
    except (stdnum_errors.ValidationError, ValueError):
        raise InvalidId(f"resident id: birth date {number[6:14]} is not a real date") from None
    if birth > (today or cst_date(datetime.now(UTC))):
        raise InvalidId(f"resident id: birth date {birth.isoformat()} is in the future")
    try:
        ric.validate(number)
    except stdnum_errors.InvalidChecksum:
        raise InvalidId("resident id: check character is wrong (ISO 7064 MOD 11-2)") from None
    except stdnum_errors.ValidationError as error:
        raise InvalidId(f"resident id: {error}") from None
    return number


def check_credit_code(value: str) -> str:
    """A valid 18-character unified social credit code, upper-cased, or :class:`InvalidId`."""
    code = value.strip().upper()
    if len(code) != 18:
        raise InvalidId(f"credit code must have 18 characters, got {len(code)}")
    bad = sorted({c for c in code if c not in USCC_ALPHABET})
    if bad:
        raise InvalidId(
            f"credit code: characters {''.join(bad)} are not allowed (GB 32100-2015 uses "
            "digits and letters except I, O, S, V, Z)"
        )
    if not code[2:8].isdigit():
        raise InvalidId("credit code: characters 3-8 (administrative division) must be digits")
    try:
        uscc.validate(code)
    except stdnum_errors.InvalidChecksum:
        raise InvalidId("credit code: check character is wrong (GB 32100-2015)") from None
    except stdnum_errors.ValidationError as error:
        raise InvalidId(f"credit code: {error}") from None
    return code


def check_applicant_id(kind: str, value: str, *, today: date | None = None) -> str:
    """Check by applicant kind: ``person`` → resident id, ``organisation`` → credit code."""
    if kind == "person":
        return check_resident_id(value, today=today)
    if kind == "organisation":
        return check_credit_code(value)
    raise InvalidId(f"applicant kind must be person or organisation, got {kind!r}")
