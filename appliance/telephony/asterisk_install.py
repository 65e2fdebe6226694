"""Where Asterisk lives: a system Asterisk >= 22.6, or the Debian sid root `asterisk/install.sh` builds.

When the host's libc is too old for Asterisk 22 (Debian bookworm), it runs from that root under chroot with the
host's network; the run directory is bind-mounted into the root at the same path, so both sides see the same
files (recordings included).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from appliance.config import Settings

DEFAULT_ROOT = "/var/cache/appliance/asterisk-sid"
MIN_VERSION = (22, 6)


class AsteriskNotInstalled(RuntimeError):
    pass


@dataclass(frozen=True)
class Install:
    """Where Asterisk lives: `root` is a chroot directory, or None for a system Asterisk."""

    root: Path | None
    version: str

    def command(self, *args: str) -> list[str]:
        binary = ["/usr/sbin/asterisk"] if self.root else [shutil.which("asterisk") or "asterisk"]
        return (["chroot", str(self.root)] if self.root else []) + binary + list(args)

    @property
    def moddir(self) -> str:
        base = Path(self.root or "/")
        for candidate in (
            "usr/lib/x86_64-linux-gnu/asterisk/modules",
            "usr/lib/aarch64-linux-gnu/asterisk/modules",
            "usr/lib/asterisk/modules",
        ):
            if (base / candidate).is_dir():
                return "/" + candidate
        return "/usr/lib/asterisk/modules"

    def mount(self, run_dir: Path) -> None:
        """Under chroot: the run directory bind-mounted at the same path inside the root, and /proc, /dev."""
        root = self.root
        if root is None:
            return
        inside = root / str(run_dir).lstrip("/")
        inside.mkdir(parents=True, exist_ok=True)
        if not _is_mount(inside):
            subprocess.run(["mount", "--bind", str(run_dir), str(inside)], check=True)
        for special, kind in (("proc", "proc"),):
            target = root / special
            if not _is_mount(target):
                subprocess.run(["mount", "-t", kind, kind, str(target)], check=True)
        if not (root / "dev/urandom").exists():
            subprocess.run(["mount", "--bind", "/dev", str(root / "dev")], check=True)

    def unmount(self, run_dir: Path) -> None:
        root = self.root
        if root is None:
            return
        inside = root / str(run_dir).lstrip("/")
        if _is_mount(inside):
            subprocess.run(["umount", "-l", str(inside)], check=False)


def _parse_version(text: str) -> tuple[int, int] | None:
    m = re.search(r"Asterisk (\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def find_asterisk(settings: Settings) -> Install:
    """A system Asterisk >= 22.6, else the chroot (settings.asterisk_root or the default)."""
    candidates: list[Path | None] = []
    if settings.asterisk_root:
        candidates.append(Path(settings.asterisk_root))
    else:
        candidates += [None, Path(DEFAULT_ROOT)]
    for root in candidates:
        if root is None and shutil.which("asterisk") is None:
            continue
        if root is not None and not (root / "usr/sbin/asterisk").exists():
            continue
        install = Install(root, "")
        try:
            out = subprocess.run(install.command("-V"), capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        version = _parse_version(out)
        if version and version >= MIN_VERSION:
            return Install(root, out.strip())
    raise AsteriskNotInstalled("no Asterisk >= 22.6 found: run `make setup` (asterisk/install.sh)")


def _is_mount(path: Path) -> bool:
    return subprocess.run(["mountpoint", "-q", str(path)], check=False).returncode == 0
