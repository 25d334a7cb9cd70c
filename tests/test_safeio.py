"""Atomic writes that never follow a symlink, folder locks, sanitised names."""

import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim._safeio import FolderBusyError, FolderLock, atomic_write, safe_file_name


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    atomic_write(target, "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["f.txt"]


def test_atomic_write_replaces_a_symlink_not_its_target(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "out").symlink_to(victim)
    atomic_write(tmp_path / "out", b"result")
    assert victim.read_text() == "precious"
    assert not (tmp_path / "out").is_symlink() and (tmp_path / "out").read_bytes() == b"result"


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "f.txt"
    target.write_text("old")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        atomic_write(target, "new")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["f.txt"]


def test_the_lock_keeps_a_second_process_out_and_dies_with_its_holder(tmp_path):
    code = ("import sys; from accelsim._safeio import FolderLock\n"
            "try:\n    FolderLock(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__)")
    with FolderLock(tmp_path):
        other = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
        assert other.stdout.strip() == "FolderBusyError"
        with pytest.raises(FolderBusyError):
            FolderLock(tmp_path)
    other = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert other.stdout.strip() == ""


def test_the_lock_file_is_not_followed_through_a_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / ".accelsim.lock").symlink_to(victim)
    with pytest.raises(OSError):
        FolderLock(tmp_path / "d")
    assert victim.read_text() == "precious"


@given(st.text(max_size=200))
def test_safe_file_names_stay_in_the_folder(text):
    name = safe_file_name(text)
    assert name and "/" not in name and "\\" not in name and ".." not in name and not name.startswith(".")
    assert len(name) <= 100


def test_profile_plot_default_name_cannot_escape(tmp_path, monkeypatch):
    assert safe_file_name("../../etc/x") == "etc_x"
