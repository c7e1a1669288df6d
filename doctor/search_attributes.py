"""onechain's search attributes registered in the namespace, with the right types.

Without them every case start fails (the workflow upserts them), so a missing one is
a failure, and the message gives the command that registers it.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from doctor.findings import Finding, fail, ok, warn
from workflows import search_attributes as sa

#: ``temporal operator search-attribute create --type`` names.
_CLI_TYPES: dict[int, str] = {
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD: "Keyword",
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST: "KeywordList",
    IndexedValueType.INDEXED_VALUE_TYPE_DATETIME: "Datetime",
    IndexedValueType.INDEXED_VALUE_TYPE_TEXT: "Text",
    IndexedValueType.INDEXED_VALUE_TYPE_INT: "Int",
    IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE: "Double",
    IndexedValueType.INDEXED_VALUE_TYPE_BOOL: "Bool",
}


def expected() -> dict[str, int]:
    return {key.name: int(key.indexed_value_type) for key in sa.ALL_KEYS}


async def search_attributes(client: Client) -> Finding:
    try:
        found = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    except RPCError as error:
        if error.status in (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED):
            return warn(
                "search attributes",
                f"cannot list them here ({error.message}); check in the Temporal UI or Cloud "
                f"console that {', '.join(expected())} exist",
            )
        return fail("search attributes", f"cannot list them: {error.message}")
    registered = dict(found.custom_attributes)
    missing = [name for name in expected() if name not in registered]
    wrong = [
        f"{name} is {_CLI_TYPES.get(registered[name], registered[name])}, "
        f"needs {_CLI_TYPES.get(kind, kind)}"
        for name, kind in expected().items()
        if name in registered and registered[name] != kind
    ]
    if missing:
        create = " ".join(
            f"--name {name} --type {_CLI_TYPES.get(expected()[name], '?')}" for name in missing
        )
        return fail(
            "search attributes",
            f"missing in namespace {client.namespace!r}: {', '.join(missing)}; cases cannot "
            f"start. Register them: `temporal operator search-attribute create {create}`",
        )
    if wrong:
        return fail("search attributes", "; ".join(wrong))
    return ok("search attributes", f"{len(expected())} registered ({', '.join(expected())})")
