"""The corpus's files as the file system gives them: read only inside the corpus folder, and
described (`file_signature`) without being read, so that a build can tell a file it read
before from one that changed since."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from qa.ingest.readers import UnreadableDocument

SIDECAR_SUFFIX = ".meta.json"
#: A file changed less than this long before it was looked at may change again unseen within
#: the file system's timestamp granularity (2 s on FAT): its signature is not trusted.
SETTLED_NS = 2_000_000_000


class OutsideCorpus(UnreadableDocument):
    """A path that leads out of the corpus folder: never read, and never kept."""


def file_signature(path: Path, real_root: str) -> str | None:
    """What a file (and its sidecar) is as the file system describes it without reading it:
    device and inode, size, modification and change times. None when it
    cannot be told (a link out of the corpus, a file gone) or the file changed too recently
    to be sure a later change within the same timestamp would show (`SETTLED_NS`)."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    parts: list[str] = []
    latest = 0
    for candidate in (path, sidecar):
        target = os.path.realpath(candidate)
        if not is_inside(target, real_root):
            return None
        try:
            status = os.stat(target, follow_symlinks=False)
        except FileNotFoundError:
            if candidate is path:
                return None
            parts.append("-")  # no sidecar: one that appears changes the signature
            continue
        except OSError:
            return None
        if not stat.S_ISREG(status.st_mode):
            return None
        latest = max(latest, status.st_mtime_ns, status.st_ctime_ns)
        parts.append(
            f"{status.st_dev}:{status.st_ino}:{status.st_size}"
            f":{status.st_mtime_ns}:{status.st_ctime_ns}"
        )
    if latest > time.time_ns() - SETTLED_NS:
        return None
    return " ".join(parts)


def read_inside(path: Path, real_root: str) -> bytes:
    """The bytes of the regular file at `path`, which must lie in the corpus once links
    are resolved (OutsideCorpus if not); never blocks on a FIFO."""
    target = os.path.realpath(path)
    if not is_inside(target, real_root):
        raise OutsideCorpus("symbolic link to a file outside the corpus")
    # O_NOFOLLOW: a link swapped in after the check is refused, not followed.
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
    with open(os.open(target, flags), "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise UnreadableDocument(f"not a regular file ({file_kind(mode)})")
        return handle.read()


def file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISDIR, "folder"),
    )
    return next((name for test, name in kinds if test(mode)), "special file")


def is_inside(target: str, real_root: str) -> bool:
    return target == real_root or target.startswith(real_root.rstrip("/") + "/")
