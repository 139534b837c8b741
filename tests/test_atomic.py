"""atomic_write: whole files only, also when two writers target one path at once."""

from __future__ import annotations

import pytest

from dxmi.atomic import atomic_write, write_text


def test_a_second_writer_in_between_does_not_break_the_first(tmp_path):
    target = tmp_path / "cache.bin"

    def first(tmp):
        tmp.write_text("first")
        write_text(target, "second")  # another process finishing while this one writes

    atomic_write(target, first)
    assert target.read_text() == "first"  # the last rename wins, whole
    assert [p.name for p in tmp_path.iterdir()] == ["cache.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    write_text(target, "old")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
