"""Output directories: written whole or not at all, and never over what the program did not write.

Every command that writes a directory of results (``run``, ``compare``, ``sweep``) goes
through :class:`OutputDir`:

- **Ownership.** A directory is *ours* when it is empty, or when every entry in it is
  something netbootsim wrote there: the names listed in its marker file
  (:data:`MARKER`, written beside the outputs), or — for directories written before the
  marker existed — the fixed file names of the command, among them one every such
  output held (``summary.json``, ``compare.md``, ``sweep.csv``, ``run.json``), and
  subdirectories that are themselves ours. Only an output directory that is ours is
  replaced. Anything else in it (a user's notes, the scenario file itself with
  ``--out .``) makes the command refuse before it runs, with one line naming the
  entry, exit status 2; ``--force`` writes the outputs into it file by file, deletes
  nothing and replaces only what it wrote there before (its marker then lists those
  names): an entry of the user's with an output's name makes it refuse.
- **All or nothing.** Outputs are written into a hidden staging directory beside the
  target (``.NAME.<random>.netbootsim-tmp``) and renamed into place; a killed run
  leaves the previous complete output (or none) plus a staging directory, which the
  next run on that target removes.
- **Ordinary modes.** The staging directory and the files written through a temporary
  name get the modes ``mkdir`` and ``open`` would give them (0777 and 0666 less the
  process's umask: 0755 and 0644 under the usual 022), not the private 0700 and 0600 of
  ``tempfile``, so that the people and web servers that read reports can open them.
- **One writer.** A lock file beside the target (``.NAME.netbootsim-lock``, held with
  ``flock`` for as long as the command writes the target and removed after; the kernel
  drops the lock when the process dies, even by ``kill -9``) makes a second command on
  the same target refuse with one line instead of interleaving files.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError

__all__ = ["MARKER", "OutputDir", "KNOWN_FILES", "owned", "listed", "atomic_write", "umask"]

#: The marker file netbootsim writes into every output directory it owns: JSON with the
#: command and the names it wrote.
MARKER = ".netbootsim"
_TMP_SUFFIX = ".netbootsim-tmp"
_LOCK_SUFFIX = ".netbootsim-lock"
#: What each command wrote before the marker existed (so old outputs are still ours).
KNOWN_FILES = {
    "run": {"servers.csv", "phases.csv", "timeline.csv", "summary.json", "report.md",
            "report.html", "cdf.png", "phases.png", "utilisation.png"},
    "compare": {"compare.md", "compare.html", "compare.png"},
    "sweep": {"sweep.csv", "sweep.md", "summary.json"},
    "lab": {"run.json", "boot.ipxe", "capture.pcap", "capture.pcap.gz", "details.csv",
            "phases.csv", "dnsmasq.conf", "dnsmasq.leases", "dnsmasq.log", "dnsmasq.stderr",
            "http.csv", "httpd.stderr", "tcpdump.stderr", "relay.json", "relay.stderr",
            "lease-hook.sh", "output.txt", "user.ipxe"},
}
#: Without a marker, a directory is taken for an old output of ours only when it holds
#: one of these (what every such output held): a lone ``report.html`` of the user's
#: is not taken for ours.
_SIGNATURES = frozenset({"summary.json", "compare.md", "sweep.csv", "run.json"})
#: Numbered files of a lab run (one per guest) and the folders it serves from.
_KNOWN_LAB = re.compile(r"console-\d+\.(log|raw)|qemu-\d+\.stderr")
_LAB_DIRS = {"srv", "tftp", "www", "dhcp-hosts"}
#: Staging directories of versions before the ``.netbootsim-tmp`` suffix:
#: ``tempfile.mkdtemp(prefix=".NAME.")`` gave ``.NAME.`` + 8 random characters.
_LEGACY_TMP = r"\.{name}\.[a-z0-9_]{{8}}"


def _marker_names(path: Path) -> set[str] | None:
    """The names the marker of ``path`` lists, or ``None`` without a readable marker."""
    try:
        data = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("written_by") != "netbootsim":
        return None
    files = data.get("files")
    if not isinstance(files, list):
        return None
    return {str(f) for f in files}


def _written_before(path: Path) -> set[str]:
    """The entries of ``path`` netbootsim wrote there earlier, as ``--force`` sees them.

    Those its marker lists; without a marker, an old output's fixed names beside one of
    its signature files (:data:`_SIGNATURES`: a directory an earlier ``--force`` wrote
    into, before such directories got a marker), the rule :func:`owned` applies.
    """
    names = _marker_names(path)
    if names is not None or os.path.lexists(path / MARKER):
        return names or set()
    try:
        entries = set(os.listdir(path))
    except OSError:
        return set()
    if not _SIGNATURES & entries:
        return set()
    known = set().union(*KNOWN_FILES.values())
    return {n for n in entries & known if (path / n).is_file() and not (path / n).is_symlink()}


def listed(path: Path) -> set[str]:
    """The names the marker of directory ``path`` says netbootsim wrote (empty: none)."""
    return _marker_names(path) or set()


def owned(path: Path, _depth: int = 0) -> tuple[bool, list[str]]:
    """Whether netbootsim wrote everything in directory ``path``: ``(ours, foreign)``.

    ``foreign`` lists the entries it did not write (sorted; empty when ``ours``).
    """
    try:
        entries = sorted(os.listdir(path))
    except FileNotFoundError:
        return True, []
    listed = _marker_names(path)
    # an old output (no marker) is known by its fixed names, among them a signature's;
    # a lab run's numbered files and folders, only beside its run.json
    known = set().union(*KNOWN_FILES.values()) if _SIGNATURES.intersection(entries) \
        else set()
    lab = listed is None and "run.json" in entries
    foreign = []
    for name in entries:
        if name.startswith(MARKER) or name.endswith((_TMP_SUFFIX, _LOCK_SUFFIX)):
            continue
        entry = path / name
        if entry.is_symlink():
            foreign.append(name)  # never follow a link out of an output directory
        elif entry.is_dir() and lab and name in _LAB_DIRS:
            continue  # what a lab run serves from (removed when the run is packed)
        elif entry.is_dir():
            # a scenario's report inside a compare or sweep: ours if it is ours throughout
            # (without a marker, an empty folder is the user's, not an output of ours)
            if (listed is not None and name not in listed) or _depth >= 2 or \
                    not owned(entry, _depth + 1)[0] or (listed is None and
                                                        not any(entry.iterdir())):
                foreign.append(name)
        elif (listed is None and name not in known and
              not (lab and _KNOWN_LAB.fullmatch(name))) or \
                (listed is not None and name not in listed):
            foreign.append(name)
    return not foreign, foreign


def umask() -> int:
    """The process's file mode creation mask (read without changing it where Linux tells)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (the only portable way to read it)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write a file through a temporary name beside it and rename it into place.

    The file gets the mode ``open`` would give a new file (0666 less the umask), not
    ``mkstemp``'s 0600.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _in_the_way(path: Path, name: str, mine: set[str]) -> bool:
    """Whether entry ``name`` of ``path`` blocks an output of that name (``--force``).

    ``mine``: what netbootsim wrote there before (:func:`_written_before`). An entry it
    did not write, a symbolic link, or a directory of ours holding entries of the user's
    is theirs: ``--force`` replaces none of them.
    """
    dest = path / name
    if not os.path.lexists(dest):
        return False
    return dest.is_symlink() or name not in mine or (dest.is_dir() and not owned(dest)[0])


class OutputDir:
    """An output directory being written by one command (a context manager).

    On entry: checks that ``path`` can be a directory we may write (not a file, its
    parents creatable, nothing foreign in it unless ``force``), takes the lock and
    removes staging directories of killed runs on this target. :meth:`staging` gives a
    fresh directory to write into; :meth:`publish` moves it into place.

    Args:
        path: the target directory.
        command: the command writing it (``"run"``, ``"compare"``, ``"sweep"``).
        force: write beside entries netbootsim did not write (never deleting them).
        flag: how the target was named, for messages (``--out``, ``run.out``).
        names: what the command will write beyond its fixed names (:data:`KNOWN_FILES`),
            as far as it knows before it runs (a run's events and Parquet records, a
            compare's run directories): with ``force``, an entry of the user's of such a
            name is refused on entry, before the work, not when the outputs move in.
    """

    def __init__(self, path: str | Path, command: str, *, force: bool = False,
                 flag: str = "--out", names: Iterable[str] = ()):
        self.path = Path(path)
        self.command = command
        self.force = force
        self.flag = flag
        self.names = frozenset(names)
        self._lock_fd: int | None = None
        self._lock_path = self.path
        #: the entries netbootsim did not write, as found on entry (``--force``)
        self._theirs: set[str] = set()

    # ----------------------------------------------------------------- checks
    def _error(self, message: str) -> InputError:
        return InputError.single("command line", 0, self.flag, f"{self.path}: {message}")

    def _blocked(self, names: list[str]) -> InputError:
        """``--force`` refused: entries of the user's where outputs of those names go."""
        more = f" and {len(names) - 1} more" if len(names) > 1 else ""
        return self._error(f"{names[0]!r}{more} in the way: netbootsim did not write it, "
                           "and --force replaces nothing of yours; move it, or choose "
                           "another directory")

    def check(self) -> None:
        """Refuse (:class:`InputError`) a target that is not ours to replace."""
        p = self.path
        for up in reversed(p.parents):
            if up.exists() and not up.is_dir():
                raise self._error(f"{up} is a file, not a directory")
        if p.is_symlink():
            raise self._error("is a symbolic link; give the directory itself")
        if p.exists() and not p.is_dir():
            raise self._error("is a file, not a directory; choose a directory for the outputs")
        ours, foreign = owned(p)
        if not ours and not self.force:
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            raise self._error(
                f"holds {foreign[0]!r}{more}, which netbootsim did not write; choose a new "
                f"or empty directory, or add --force to write beside them (nothing of "
                f"theirs is deleted)")
        if not ours:  # --force: an output's name on an entry of theirs (:meth:`_merge`)
            mine = _written_before(p)
            blocked = sorted(n for n in {*KNOWN_FILES.get(self.command, ()), *self.names}
                             if _in_the_way(p, n, mine))
            if blocked:
                raise self._blocked(blocked)

    def _make_parent(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise self._error("a part of this path is a file, not a directory") from None
        except OSError as e:
            raise self._error(f"cannot create its parent directory: "
                              f"{e.strerror or e}") from None
        if not os.access(self.path.parent, os.W_OK | os.X_OK):
            raise self._error(f"cannot write in {self.path.parent}: permission denied")

    def _lock(self) -> None:
        """Take the target's lock file (created, and removed again on :meth:`close`).

        The usual protocol for a lock file that is removed by its holder: after
        ``flock`` succeeds, the file must still be the one at the lock's path (a holder
        that just finished may have removed it); if not, start again.
        """
        lock = self.path.parent / f".{self.path.name}{_LOCK_SUFFIX}"
        while True:
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise self._error(f"cannot create the lock file {lock}: "
                                  f"{e.strerror or e}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise self._error("another netbootsim command is writing this directory "
                                      "now; wait for it or choose another directory") from None
                raise
            try:
                same = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._lock_fd, self._lock_path = fd, lock
                return
            os.close(fd)

    def _remove_stale(self) -> None:
        """Staging directories of killed runs on this target (we hold its lock)."""
        name = re.escape(self.path.name)
        pattern = re.compile(rf"\.{name}\.[A-Za-z0-9_]+{re.escape(_TMP_SUFFIX)}")
        legacy = re.compile(_LEGACY_TMP.format(name=name))
        for entry in self.path.parent.iterdir():
            if entry.is_symlink() or not entry.is_dir():
                continue
            if pattern.fullmatch(entry.name) or (legacy.fullmatch(entry.name) and
                                                 owned(entry)[0]):
                shutil.rmtree(entry, ignore_errors=True)

    def __enter__(self) -> OutputDir:
        self.check()
        self._make_parent()
        self._lock()
        try:
            self.check()  # again, now that no other netbootsim can change it
            self._theirs = set(owned(self.path)[1])
            self._remove_stale()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Remove the lock file and release the lock."""
        if self._lock_fd is not None:
            self._lock_path.unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None

    # ----------------------------------------------------------------- writing
    def staging(self) -> Path:
        """A fresh empty directory beside the target to write the outputs into.

        Its mode is a new directory's (0777 less the umask): it becomes the output
        directory itself when :meth:`publish` renames it into place.
        """
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=_TMP_SUFFIX,
                                    dir=self.path.parent))
        tmp.chmod(0o777 & ~umask())
        return tmp

    def publish(self, tmp: Path) -> Path:
        """Move the outputs written in ``tmp`` into place; ``tmp`` is gone afterwards."""
        try:
            self.check()  # a user may have added a file while we ran
            if self.force and not owned(self.path)[0]:
                self._merge(tmp)
                return self.path
            for lock in tmp.glob(f"*{_LOCK_SUFFIX}"):  # of runs written inside it (done)
                lock.unlink()
            self._write_marker(tmp, sorted(e for e in os.listdir(tmp) if e != MARKER))
            self._replace(tmp, self.path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self.path

    def _write_marker(self, where: Path, names: Iterable[str]) -> None:
        atomic_write(where / MARKER, json.dumps(
            {"written_by": "netbootsim", "command": self.command, "files": sorted(names)},
            indent=1) + "\n")

    def _replace(self, new: Path, dest: Path) -> None:
        """Rename ``new`` to ``dest``; a previous ``dest`` (ours: checked) is removed."""
        old = None
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=_TMP_SUFFIX,
                                        dir=self.path.parent))
            os.rename(dest, old / "previous")
        os.rename(new, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _merge(self, tmp: Path) -> None:
        """``--force`` into a directory we do not own: beside the user's entries.

        An output replaces only an entry of the same name that netbootsim wrote there
        before (:func:`_written_before`, or an output directory of ours); a
        same-named entry of the user's makes the command refuse before anything moves.
        The marker then lists what netbootsim wrote there (earlier and now): the user's
        entries keep the directory theirs, and a later ``--force`` run replaces only
        its own.
        """
        marker = self.path / MARKER
        if _marker_names(self.path) is None and os.path.lexists(marker):
            raise self._error(f"{MARKER!r} is in the way: netbootsim did not write it")
        prior = _written_before(self.path)
        entries = sorted(tmp.iterdir())
        blocked = []
        for entry in entries:
            dest = self.path / entry.name
            if not os.path.lexists(dest):
                continue
            if entry.is_dir() != dest.is_dir() or _in_the_way(self.path, entry.name, prior):
                blocked.append(entry.name)
        if blocked:
            raise self._blocked(blocked)
        for entry in entries:
            dest = self.path / entry.name
            if entry.is_dir():
                self._replace(entry, dest)
            else:
                os.replace(entry, dest)
        self._write_marker(self.path, prior | {e.name for e in entries})
        shutil.rmtree(tmp, ignore_errors=True)

    # ------------------------------------------------------- writing in place (sweeps)
    def open_in_place(self) -> Path:
        """Create the target (if missing) for outputs published one by one inside it."""
        try:
            self.path.mkdir(exist_ok=True)
        except OSError as e:
            raise self._error(f"cannot create it: {e.strerror or e}") from None
        for entry in self.path.iterdir():  # staging of a killed run inside it (we hold the lock)
            if entry.name.endswith(_TMP_SUFFIX) and not entry.is_symlink():
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        return self.path

    def mark(self, names: Iterable[str]) -> None:
        """Record ``names`` as written by us, in place (a lab run writes so).

        The user's entries found when the command began (``--force`` writes beside
        them) are never listed: the directory stays theirs.
        """
        mine = set(names) - self._theirs
        self._write_marker(self.path, mine | (_marker_names(self.path) or set()))
