"""Applicant ids are checked where they enter, with the rule that failed."""

from __future__ import annotations

from datetime import date

import pytest

from client.facade import InvalidApplication
from domain.case import Applicant
from domain.ids import InvalidId, check_credit_code, check_resident_id
from tests.harness import CaseDriver


def test_valid_ids_are_normalised() -> None:
    assert check_resident_id(" 11010519491231002x ") == "11010519491231002X"
    assert check_credit_code("91110000600037341l") == "91110000600037341L"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("1101051949123100", "must have 18 characters, got 16"),
        ("11010519491231002A", "check character must be a digit or X"),
        ("1101051949123100A2", "first 17 characters must be digits"),
        ("110105194913310021", "birth date 19491331 is not a real date"),
        ("110105204912310027", "birth date 2049-12-31 is in the future"),
        ("110105194912310021", "check character is wrong (ISO 7064 MOD 11-2)"),
    ],
)
def test_resident_id_rules(value: str, rule: str) -> None:
    with pytest.raises(InvalidId) as refused:
        check_resident_id(value, today=date(2026, 11, 21))
    assert rule in str(refused.value)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("9111000060003734", "must have 18 characters, got 16"),
        ("9111000060003734IL", "characters I are not allowed"),
        ("91AB000060003734XL", "characters 3-8 (administrative division) must be digits"),
        ("91110000600037341A", "check character is wrong (GB 32100-2015)"),
    ],
)
def test_credit_code_rules(value: str, rule: str) -> None:
    with pytest.raises(InvalidId) as refused:
        check_credit_code(value)
    assert rule in str(refused.value)


async def test_case_with_bad_id_is_refused_before_anything_starts(driver: CaseDriver) -> None:
    bad = Applicant(kind="person", name="张三", id_number="110105194912310021")
    with pytest.raises(InvalidApplication, match=r"applicant id_number: .*ISO 7064 MOD 11-2"):
        await driver.start("restaurant", {}, applicant=bad, case_no="BAD-ID-1")
    assert not await driver.desk._exists("BAD-ID-1")
