"""The chains a worker knows, by code.

``chains/__init__.py`` registers every chain module on import. This module is
one object in the worker, so the workflow sees the worker's registry.
"""

from __future__ import annotations

from workflows.chain import Chain

_CHAINS: dict[str, Chain] = {}


def register(chain: Chain) -> Chain:
    existing = _CHAINS.get(chain.code)
    if existing is not None and existing is not chain:
        raise ValueError(f"two chains use the code {chain.code!r}")
    _CHAINS[chain.code] = chain
    return chain


def unregister(code: str) -> None:
    """For tests that swap a chain's code for a newer edit of it."""
    _CHAINS.pop(code, None)


def get_chain(code: str) -> Chain:
    try:
        return _CHAINS[code]
    except KeyError:
        known = ", ".join(sorted(_CHAINS)) or "none"
        raise LookupError(f"unknown chain {code!r} (known: {known})") from None


def all_chains() -> list[Chain]:
    return [_CHAINS[code] for code in sorted(_CHAINS)]
