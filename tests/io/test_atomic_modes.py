"""io.atomic's permissions and symlinks (no numerical oracle: what `open()` would do).

A plain `open(path, "w")` is the oracle for the mode of a new file; an existing file keeps its
mode; a symlink keeps being a link and its target gets the bytes.
"""

import os
import stat

import pytest

from unrolled.io.atomic import atomic_write


@pytest.fixture
def umask():
    def set_mask(mask):
        old = os.umask(mask)
        restore.append(old)
        return mask

    restore = []
    yield set_mask
    if restore:
        os.umask(restore[0])


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_file_gets_the_mode_open_would_give(tmp_path, umask, mask):
    umask(mask)
    atomic_write(tmp_path / "a.bin", b"x")
    with open(tmp_path / "b.bin", "wb") as f:
        f.write(b"x")
    mode = stat.S_IMODE(os.stat(tmp_path / "a.bin").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "b.bin").st_mode)
    assert mode != 0o600 or mask == 0o077


def test_replacing_keeps_the_old_files_mode(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "m.keras"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640


@pytest.mark.parametrize("existing", [True, False])
def test_symlink_target_is_written_and_the_link_kept(tmp_path, existing):
    real_dir = tmp_path / "store"
    real_dir.mkdir()
    real = real_dir / "model.keras"
    if existing:
        real.write_bytes(b"old")
    link = tmp_path / "latest.keras"
    link.symlink_to(real)
    atomic_write(link, b"new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new"
    assert not [p for p in real_dir.iterdir() if p.name.endswith(".tmp")]
