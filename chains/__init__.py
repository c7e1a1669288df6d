"""The chains this deployment runs. Importing this package registers them all.

To add a chain: write ``chains/<code>.py`` (see docs/writing-a-chain.md) and add
its module to ``CHAIN_MODULES``.
"""

from __future__ import annotations

import importlib

from workflows import registry

CHAIN_MODULES = (
    "kindergarten",
    "restaurant",
    "company",
    "construction",
    "clinic",
    "elderly_care",
    "training_school",
    "entertainment",
    "swimming_venue",
    "pharmacy",
    "talent",
)


def _register_all() -> None:
    for name in CHAIN_MODULES:
        try:
            module = importlib.import_module(f"chains.{name}")
        except ModuleNotFoundError as missing:
            if missing.name == f"chains.{name}":
                continue  # not written yet
            raise
        registry.register(module.chain)


_register_all()
