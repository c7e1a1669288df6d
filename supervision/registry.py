"""The supervision rules, registered like chains: one module each under
``supervision.rules``, listed here in the order they are evaluated and shown."""

from __future__ import annotations

from supervision.rule import Rule
from supervision.rules import (
    acceptance_time_mismatch,
    asked_for_held_material,
    bad_rating_unrectified,
    extensions_overused,
    off_hours_decision,
    on_behalf_share,
    outside_change,
    publication_late,
    red_card_idle,
    repeated_correction,
    stopped_clock_overused,
)

_RULES: dict[str, Rule] = {}


class UnknownRule(LookupError):
    pass


def register(rule: Rule) -> Rule:
    if rule.code in _RULES:
        raise ValueError(f"supervision rule {rule.code!r} is registered twice")
    _RULES[rule.code] = rule
    return rule


def all_rules() -> list[Rule]:
    return list(_RULES.values())


def get_rule(code: str) -> Rule:
    try:
        return _RULES[code]
    except KeyError:
        known = ", ".join(_RULES)
        raise UnknownRule(f"unknown supervision rule {code!r} (known: {known})") from None


for _module in (
    repeated_correction,
    asked_for_held_material,
    red_card_idle,
    off_hours_decision,
    outside_change,
    stopped_clock_overused,
    extensions_overused,
    on_behalf_share,
    publication_late,
    bad_rating_unrectified,
    acceptance_time_mismatch,
):
    register(_module.RULE)
