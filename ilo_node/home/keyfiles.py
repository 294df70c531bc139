"""Private key files, public files and passphrases on disk (the I/O side of keys.keystore).

Private key files are written 0600 in a 0700 directory, atomically (temporary file,
fsync, rename, fsync of the directory) so that a crash leaves either the old file or
the new one, never half of one. They are refused on read when group or others have any
access, as ssh does: a key that others could read must be treated as exposed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

from keys.errors import KeyStoreError
from keys.keystore import MAX_KEY_FILE_BYTES, SecretKey, lock_secret, unlock_secret

__all__ = [
    "PASSPHRASE_ENV",
    "PassphraseFor",
    "delete_private_key",
    "read_private_key",
    "resolve_passphrase",
    "write_private_key",
    "write_public_file",
]

PASSPHRASE_ENV = "ILO_NODE_PASSPHRASE"  # noqa: S105 (a variable name, not a password)
#: Gives the passphrase of the key described by its argument ("the node DE@TR keys").
#: Library functions take one of these rather than the passphrase so that it is asked
#: for only once the arguments are known to be good, as late as the key is needed.
PassphraseFor = Callable[[str], bytes]
MAX_PASSPHRASE_FILE_BYTES = 64 * 1024
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# Filesystems that cannot fsync a directory or hard-link say so with these.
_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EBADF}


def _os_error(action: str, path: Path, exc: OSError) -> KeyStoreError:
    # strerror only: the OSError's str() can repeat paths but never file content.
    reason = exc.strerror or type(exc).__name__
    return KeyStoreError(f"cannot {action} {path}: {reason}", _advice_for(exc, path))


def _advice_for(exc: OSError, path: Path) -> str:
    if isinstance(exc, PermissionError):
        return f"Run as the user that owns {path.parent}, or fix the directory's permissions."
    if exc.errno == errno.ENOSPC:
        return "Free some disk space and try again; nothing was replaced."
    return "Check the path and the filesystem; nothing was replaced."


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some filesystems cannot fsync a directory; the rename is then as durable as
        # that filesystem makes it, which is all we can do.
        if exc.errno not in _UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _make_private_dir(directory: Path) -> None:
    if directory.is_dir():
        return
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkdir's mode is filtered by the umask; the key directory must end up 0700.
    os.chmod(directory, 0o700)


def _atomic_write(path: Path, data: bytes, mode: int, *, overwrite: bool) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory."""
    directory = path.parent
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _O_CLOEXEC | _O_NOFOLLOW, mode)
    try:
        try:
            # O_CREAT's mode is filtered by the umask: set exactly the mode we promise.
            os.fchmod(fd, mode)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            _publish_without_clobbering(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(directory)


def _publish_without_clobbering(tmp: Path, path: Path) -> None:
    # A hard link fails atomically if the target exists, where "check, then
    # os.replace" would let a concurrent writer's key be silently replaced. Losing an
    # identity key that way is unrecoverable, so the race is worth closing.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _exists_error(path) from None
    except OSError as exc:
        if exc.errno not in _UNSUPPORTED:
            raise
        # No hard links here (some network and FUSE filesystems): fall back to the
        # check, which is only racy against a second writer on the same path.
        if os.path.lexists(path):
            raise _exists_error(path) from None
        os.replace(tmp, path)
        return
    # The key is in place; a leftover 0600 temporary copy must not turn that into an error.
    with contextlib.suppress(OSError):
        tmp.unlink()


def _exists_error(path: Path) -> KeyStoreError:
    return KeyStoreError(
        f"key file {path} already exists",
        "Refusing to replace a private key. Move the old file away first if you really "
        "mean to replace it (it cannot be recovered once overwritten).",
    )


def write_private_key(
    path: Path,
    key: SecretKey,
    passphrase: bytes,
    *,
    label: str,
    profile: str = "interactive",
    overwrite: bool = False,
) -> None:
    """Lock ``key`` under ``passphrase`` and store it at ``path`` (mode 0600)."""
    # Checked before the costly KDF for a quick answer; checked again atomically below.
    if not overwrite and os.path.lexists(path):
        raise _exists_error(path)
    data = lock_secret(key, passphrase, label=label, profile=profile)
    try:
        _make_private_dir(path.parent)
        _atomic_write(path, data, 0o600, overwrite=overwrite)
    except KeyStoreError:
        raise
    except OSError as exc:
        raise _os_error("write key file", path, exc) from None


def write_public_file(path: Path, data: bytes) -> None:
    """Write a public file (public key, certificate…) atomically, mode 0644."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, data, 0o644, overwrite=True)
    except OSError as exc:
        raise _os_error("write", path, exc) from None


def _open_checked(path: Path, what: str) -> tuple[int, os.stat_result]:
    """Open ``path`` for reading and check, on the open descriptor, who may access it.

    Checking the descriptor rather than the path means the file we judged is the
    file we read, even if the path is swapped in between.
    """
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise hang until a writer
        # appears; it is cleared again below for pipes we do want to read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _O_CLOEXEC)
    except FileNotFoundError:
        raise KeyStoreError(
            f"no {what} at {path}",
            "Check the path; 'ilo-node keys init' creates the key files of a home.",
        ) from None
    except PermissionError:
        raise KeyStoreError(
            f"cannot read {what} {path}: permission denied",
            f"Run as the user that owns {path}.",
        ) from None
    except OSError as exc:
        raise _os_error(f"open {what}", path, exc) from None
    try:
        st = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise _os_error(f"inspect {what}", path, exc) from None
    return fd, st


def _check_private_mode(path: Path, st: os.stat_result, what: str) -> None:
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise KeyStoreError(
            f"{what} {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); refusing to use it",
            f"Run 'chmod 600 {path}'. If other users could read it, treat the key as "
            "exposed: rotate it.",
        )


def _read_limited(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = os.read(fd, limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _read_private(
    path: Path, what: str, limit: int, accept: Callable[[int, os.stat_result], None]
) -> bytes:
    """At most ``limit + 1`` bytes of a file only its owner may access; ``accept`` may
    refuse (or prepare) the open descriptor first."""
    fd, st = _open_checked(path, what)
    try:
        accept(fd, st)
        # A file others can write is as bad as one they can read: whoever plants the
        # passphrase before 'keys init' knows the passphrase of the new key.
        _check_private_mode(path, st, what)
        try:
            return _read_limited(fd, limit)
        except OSError as exc:
            raise _os_error(f"read {what}", path, exc) from None
    finally:
        os.close(fd)


def read_private_key(path: Path, passphrase: bytes) -> SecretKey:
    """Read and unlock the key at ``path``; refuses files others can access."""

    def regular_file_only(fd: int, st: os.stat_result) -> None:
        if not stat.S_ISREG(st.st_mode):
            raise KeyStoreError(
                f"{path} is not a regular file",
                "Pass the path of the key file itself (e.g. HOME/keys/signing.key).",
            )

    data = _read_private(path, "key file", MAX_KEY_FILE_BYTES, regular_file_only)
    try:
        return unlock_secret(data, passphrase)
    except KeyStoreError as exc:
        # Same class (WrongPassphraseError stays one), with the path the operator knows.
        raise type(exc)(f"{path}: {exc.message}", exc.advice) from None


def delete_private_key(path: Path) -> None:
    """Remove a private key file.

    There is no overwrite before the unlink: on journalling, copy-on-write and
    log-structured filesystems and on SSDs the new bytes go to different blocks, so
    "shredding" in place gives a false sense of erasure. Real protection is the
    passphrase encryption, plus full-disk encryption for the medium.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise KeyStoreError(
            f"no key file at {path}", "Nothing was deleted; check the path."
        ) from None
    except OSError as exc:
        raise _os_error("inspect key file", path, exc) from None
    if not stat.S_ISREG(st.st_mode):
        # Unlinking a symlink would report success while the key itself stays.
        raise KeyStoreError(
            f"{path} is not a regular file; not deleting it",
            "Delete the key file itself, not a link or directory pointing at it.",
        )
    try:
        os.unlink(path)
    except OSError as exc:
        raise _os_error("delete key file", path, exc) from None
    try:
        _fsync_dir(path.parent)
    except OSError as exc:
        raise _os_error("sync directory of", path, exc) from None


def _read_passphrase_file(path: Path) -> bytes:
    what = "passphrase file"

    def file_or_pipe(fd: int, st: os.stat_result) -> None:
        if stat.S_ISDIR(st.st_mode):
            raise KeyStoreError(f"{what} {path} is a directory", "Pass the file itself.")
        if not stat.S_ISREG(st.st_mode):
            # Pipes, e.g. --passphrase-file <(pass show ilo-node): wait for the writer.
            os.set_blocking(fd, True)

    raw = _read_private(path, what, MAX_PASSPHRASE_FILE_BYTES, file_or_pipe)
    if len(raw) > MAX_PASSPHRASE_FILE_BYTES:
        raise KeyStoreError(
            f"{what} {path} is larger than {MAX_PASSPHRASE_FILE_BYTES} bytes",
            "Check that --passphrase-file names the file holding only the passphrase.",
        )
    # One trailing newline is what editors and 'echo' add; a CR before it is what
    # Windows editors add. Anything else is part of the passphrase.
    if raw.endswith(b"\r\n"):
        raw = raw[:-2]
    elif raw.endswith(b"\n"):
        raw = raw[:-1]
    if not raw:
        raise KeyStoreError(
            f"{what} {path} is empty", "Put the passphrase in the file, on one line."
        )
    return raw


def resolve_passphrase(
    *,
    passphrase_file: Path | None,
    environ: Mapping[str, str],
    prompt: Callable[[str, bool], str] | None,
    confirm: bool,
    what: str,
) -> bytes:
    """The passphrase for ``what``: from the file, else the environment, else the prompt.

    ``prompt(what, confirm)`` asks interactively (``confirm``: ask twice, for a new
    passphrase) and is passed only when a terminal is available.
    """
    if passphrase_file is not None:
        return _read_passphrase_file(passphrase_file)
    if PASSPHRASE_ENV in environ:
        value = environ[PASSPHRASE_ENV]
        if not value:
            # Usually an unset shell variable expanded into the export: say so rather
            # than fall through to a prompt nobody is watching.
            raise KeyStoreError(
                f"{PASSPHRASE_ENV} is set but empty",
                f"Put the passphrase for {what} in {PASSPHRASE_ENV}, or unset it.",
            )
        # surrogateescape gives back the exact bytes the OS handed us for non-UTF-8 values.
        return value.encode("utf-8", "surrogateescape")
    if prompt is not None:
        answer = prompt(what, confirm)
        if not answer:
            raise KeyStoreError(
                f"no passphrase entered for {what}", "Type the passphrase at the prompt."
            )
        return answer.encode("utf-8", "surrogateescape")
    raise KeyStoreError(
        f"no passphrase for {what}: set {PASSPHRASE_ENV}, pass --passphrase-file, or run in "
        "a terminal",
        "In services, prefer --passphrase-file with a 0600 file (or a systemd credential) "
        f"to {PASSPHRASE_ENV}: the environment is visible to more processes.",
    )
