"""Owner-only permissions for security data (user hashes, audit trail, exports).

POSIX only: on other systems `chmod` cannot express owner-only access, so these
helpers create the path and leave access control to the platform's ACLs.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from privacy.errors import PrivacyError

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def secure_dir(path: str | os.PathLike[str]) -> Path:
    """Create `path` (and parents) if needed and make it owner-only (0700)."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        os.chmod(p, DIR_MODE)  # mkdir's mode is masked by the umask and ignored for existing dirs
    except OSError as exc:
        raise PrivacyError(
            f"cannot create or restrict directory {p}: {exc.strerror}",
            "run clinqa as the account that owns this directory, or choose another location",
        ) from exc
    return p


def secure_file(path: str | os.PathLike[str]) -> Path:
    """Create `path` if needed (never readable by others, not even briefly) and make it 0600."""
    p = Path(path)
    try:
        # O_CREAT with mode 0600 so a new file never exists with wider permissions.
        fd = os.open(p, os.O_CREAT | os.O_WRONLY, FILE_MODE)
        os.close(fd)
        os.chmod(p, FILE_MODE)
    except OSError as exc:
        raise PrivacyError(
            f"cannot create or restrict file {p}: {exc.strerror}",
            "check that the directory exists and that you own the file",
        ) from exc
    return p
