"""The sealing codec on its own: what it writes, what it passes through, what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter

from runtime.codec import (
    COMPRESSION_METADATA,
    ENCODING,
    KEY_ID_METADATA,
    PayloadKeyError,
    SealingCodec,
)
from runtime.keys import init_keys, load_payload_keys, rotate


def plain(value: object) -> Payload:
    return pydantic_data_converter.payload_converter.to_payloads([value])[0]


@pytest.fixture
def codec(tmp_path: Path) -> SealingCodec:
    init_keys(tmp_path)
    return SealingCodec(load_payload_keys(tmp_path, {}))


async def test_seals_with_the_active_key_and_opens_again(codec: SealingCodec) -> None:
    original = plain({"phone": "13912345678"})
    first, second = await codec.encode([original, original])
    assert first.metadata["encoding"] == ENCODING
    assert first.metadata[KEY_ID_METADATA] == codec.active_kid.encode()
    assert b"13912345678" not in first.data
    assert first.data != second.data  # a fresh nonce each time
    assert await codec.decode([first, second]) == [original, original]


async def test_payloads_from_before_the_codec_pass_through(codec: SealingCodec) -> None:
    original = plain({"name": "张三"})
    assert await codec.decode([original]) == [original]


async def test_a_payload_relabelled_with_another_key_id_is_refused(tmp_path: Path) -> None:
    init_keys(tmp_path)
    old = SealingCodec(load_payload_keys(tmp_path, {}))
    rotate(tmp_path, "payload")
    both = SealingCodec(load_payload_keys(tmp_path, {}))
    (sealed,) = await old.encode([plain("x")])
    assert await both.decode([sealed]) == [plain("x")]  # the old key still opens it
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID_METADATA] = both.active_kid.encode()
    with pytest.raises(PayloadKeyError, match="failed authentication"):
        await both.decode([relabelled])


async def test_an_unknown_key_id_is_named(codec: SealingCodec) -> None:
    (sealed,) = await codec.encode([plain("x")])
    sealed.metadata[KEY_ID_METADATA] = b"p-19990101-dead"
    with pytest.raises(PayloadKeyError, match=r"key id 'p-19990101-dead'.*`onechain keys list`"):
        await codec.decode([sealed])


async def test_a_large_payload_is_compressed_and_the_flag_cannot_be_dropped(
    codec: SealingCodec,
) -> None:
    rows = plain([{"case_no": f"C{i}", "stage": "并联审查", "warning": "none"} for i in range(40)])
    (small,) = await codec.encode([plain("x")])
    (large,) = await codec.encode([rows])
    assert COMPRESSION_METADATA not in small.metadata
    assert large.metadata[COMPRESSION_METADATA] == b"zlib"
    assert len(large.data) < len(rows.SerializeToString()) / 3
    assert await codec.decode([large]) == [rows]
    stripped = Payload()
    stripped.CopyFrom(large)
    del stripped.metadata[COMPRESSION_METADATA]  # as if it were not compressed
    with pytest.raises(PayloadKeyError, match="failed authentication"):
        await codec.decode([stripped])
