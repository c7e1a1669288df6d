"""Phone numbers as the desk, the import and the worker accept them: one rule, here.

A plausible Chinese mobile (11 digits starting with 1, optionally +86) or landline
(area code starting with 0, then 7–8 digits, optionally an extension), normalised to
``13800138000`` or ``0537-2345678[-ext]``. The worker re-checks every start with the
same function the desk uses (``domain.case.check_applicant_text``), so a start sent
around the desk cannot carry a phone the desk would refuse.
"""

from __future__ import annotations

import re
import unicodedata

_MOBILE = re.compile(r"^(?:\+?86)?(1\d{10})$")
_LANDLINE = re.compile(r"^(?:\+?86-?)?(0\d{2,3})-?(\d{7,8})(?:(?:-|转|ext\.?)(\d{1,6}))?$")
#: Why a phone was refused (names no digits: refusals reach logs and histories).
NOT_A_PHONE = "not a mobile number (11 digits starting with 1) or a landline (0537-2345678)"


def normalise_phone(value: str) -> str:
    """``value`` as a normalised phone number; ``ValueError`` when it is not one."""
    text = unicodedata.normalize("NFKC", value).strip()
    compact = re.sub(r"[\s()]", "", text)
    mobile = _MOBILE.match(compact.replace("-", ""))
    if mobile:
        return mobile.group(1)
    landline = _LANDLINE.match(compact)
    if landline:
        area, number, ext = landline.groups()
        return f"{area}-{number}" + (f"-{ext}" if ext else "")
    raise ValueError(NOT_A_PHONE)
