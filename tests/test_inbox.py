"""The inbox: files in arrival order; hidden files and symlinks are never picked up."""

from __future__ import annotations

import os

from ingest.inbox import pending_files


def test_files_come_oldest_first_and_symlinks_and_hidden_files_are_skipped(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, mtime in (("b.xlsx", 200), ("a_correction.xlsx", 300), ("c.csv", 100), (".partial.xlsx", 50),
                        ("anything.pdf", 150)):
        (inbox / name).write_bytes(b"x")
        os.utime(inbox / name, (mtime, mtime))
    (inbox / "link.xlsx").symlink_to("/etc/hostname")
    (inbox / "folder").mkdir()
    names = [os.path.basename(p) for p in pending_files(inbox)]
    # wrong types are received (and refused with an answer), not silently ignored
    assert names == ["c.csv", "anything.pdf", "b.xlsx", "a_correction.xlsx"]


def test_no_inbox_folder_means_nothing_pending(tmp_path):
    assert pending_files(tmp_path / "missing") == []
