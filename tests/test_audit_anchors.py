"""The anchor file as several workers write it at once: one line per moved head, each
line sealed and chained to the one before, whoever wrote it."""

from __future__ import annotations

import hashlib
import multiprocessing
from pathlib import Path

from readmodel.audit_anchors import Head, read_anchors, write_anchor
from runtime.keys import AuditKeys

KEYS = AuditKeys("a-test", {"a-test": b"k" * 32})


def _writer(path: str, worker: int, count: int) -> None:
    for i in range(count):
        head_id = worker * 1000 + i + 1
        digest = hashlib.sha256(str(head_id).encode()).hexdigest()
        write_anchor(Path(path), Head(head_id, digest, head_id, 0), KEYS)


def test_concurrent_writers_leave_one_sealed_chain_of_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "anchors.jsonl"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(str(path), w, 30)) for w in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    report = read_anchors(path, KEYS)
    assert report.problems == [] and len(report.anchors) == 120
    assert [a.n for a in report.anchors] == list(range(1, 121))
    assert path.stat().st_mode & 0o777 == 0o600


def test_an_unmoved_head_writes_no_line(tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    head = Head(7, "f" * 64, 7, 0)
    assert write_anchor(path, head, KEYS)
    assert not write_anchor(path, head, KEYS)
    assert write_anchor(path, Head(8, "e" * 64, 8, 0), KEYS)
    assert len(read_anchors(path, KEYS).anchors) == 2


def test_a_line_sealed_with_another_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    write_anchor(path, Head(1, "a" * 64, 1, 0), KEYS)
    write_anchor(path, Head(2, "b" * 64, 2, 0), AuditKeys("a-test", {"a-test": b"x" * 32}))
    report = read_anchors(path, KEYS)
    assert report.problems == ["锚点文件第 2 行的密封不符（anchor line 2 edited or forged）"]
