"""The systemd unit of a node's home (``ilo-node service unit``).

The unit is package data (``units/ilo-node.service``) with the home's paths, its
user and where the passphrase credential lives filled in. The passphrase reaches
the node as a systemd credential (``LoadCredentialEncrypted=`` by default, or
``LoadCredential=``): systemd puts it in ``$CREDENTIALS_DIRECTORY/passphrase``, a
file only the service can read, and the node reads it through
``--passphrase-file %d/passphrase`` like any passphrase file; it never passes
through the environment or argv.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

from ilo_node.home.home import Home
from protocol.errors import UsageError

__all__ = ["ServiceUnit", "service_unit", "unit_name"]

#: Where ``ProtectHome=yes`` would hide what the service needs (systemd.exec(5)).
_PROTECTED = (PurePosixPath("/home"), PurePosixPath("/root"), PurePosixPath("/run/user"))
#: What ``PrivateTmp=yes`` replaces with the service's own, empty, directories.
_TEMPORARY = (PurePosixPath("/tmp"), PurePosixPath("/var/tmp"))  # noqa: S108 (compared, not used)
#: Paths written into the unit as they are: no quoting, no specifiers, no variables.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9@._+,:=/-]*")
_NAME = re.compile(r"[a-z_][a-z0-9_.-]*\$?", re.IGNORECASE)


@dataclass(frozen=True)
class ServiceUnit:
    name: str
    text: str
    user: str
    #: What an operator should know before installing it (printed on stderr).
    warnings: tuple[str, ...]


def unit_name(node: str) -> str:
    """``ilo-node-de-tr.service`` for ``DE@TR``."""
    return "ilo-node-" + node.lower().replace("@", "-") + ".service"


def _path(path: Path, what: str) -> str:
    text = str(path)
    if not _PLAIN_PATH.fullmatch(text):
        raise UsageError(
            f"{what} {text!r} holds characters a unit file would have to quote or escape",
            "Use a path of letters, digits and '@._+,:=/-' only (for example "
            "/var/lib/ilo-node/de-tr), or edit the unit by hand.",
        )
    return text


def _command() -> tuple[str, list[Path]]:
    """How the unit runs ilo-node: this installation's ``ilo-node`` script, else this
    interpreter with ``-m`` (``-P``: the home's ``keys/`` is not the ``keys`` package);
    and the directories it reads from."""
    interpreter = Path(sys.executable)
    script = interpreter.parent / "ilo-node"
    roots = [Path(sys.prefix), Path(sys.base_prefix)]
    if script.is_file() and os.access(script, os.X_OK):
        return _path(script, "the ilo-node program"), roots
    return f"{_path(interpreter, 'the Python interpreter')} -P -m ilo_node", roots


def _under(path: Path, roots: tuple[PurePosixPath, ...]) -> bool:
    pure = PurePosixPath(path)
    return any(pure == root or root in pure.parents for root in roots)


def _owner(home: Home, user: str | None, group: str | None) -> tuple[str, str, list[str]]:
    warnings: list[str] = []
    if user is None:
        uid = home.path.stat().st_uid
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            raise UsageError(
                f"the owner of {home.path} (uid {uid}) has no user name here",
                "Give the user the node runs as with --user.",
            ) from None
    if not _NAME.fullmatch(user):
        raise UsageError(f"{user!r} is not a user name", "Give --user the name of a user.")
    if group is None:
        try:
            group = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
        except KeyError:
            raise UsageError(
                f"user {user!r} is not known on this machine",
                "Give its group with --group too, or create the user first.",
            ) from None
    if not _NAME.fullmatch(group):
        raise UsageError(f"{group!r} is not a group name", "Give --group the name of a group.")
    if user == "root":
        warnings.append(
            "the unit runs the node as root: create a system user for it "
            "('useradd --system --home-dir HOME ilo-node'), 'chown -R' the home to it, "
            "and write the unit again with --user"
        )
    try:
        owner = pwd.getpwuid(home.path.stat().st_uid).pw_name
    except KeyError:
        owner = None
    if owner is not None and owner != user:
        where = home.path.resolve()
        warnings.append(
            f"{where} belongs to {owner}, not {user}: the node cannot use it; "
            f"'chown -R {user}: {where}'"
        )
    return user, group, warnings


def service_unit(
    home: Home,
    *,
    user: str | None = None,
    group: str | None = None,
    credential: Path | None = None,
    encrypted: bool = True,
) -> ServiceUnit:
    """The unit that runs the node of ``home`` as ``user``, its passphrase from the
    credential file ``credential`` (default under ``/etc/credstore.encrypted/``, or
    ``/etc/credstore/`` when not ``encrypted``)."""
    config = home.require_role("node")
    node = str(config.node)
    name = unit_name(node)
    home_path = home.path.resolve()
    home_text = _path(home_path, "the home")
    user, group, warnings = _owner(home, user, group)
    if credential is None:
        store = "/etc/credstore.encrypted" if encrypted else "/etc/credstore"
        credential = Path(store) / name.removesuffix(".service")
    credential_text = _path(credential, "the credential file")
    if not credential.is_absolute():
        raise UsageError(f"--credential {credential} is not an absolute path")
    program, roots = _command()
    protect = ["ProtectHome=yes"]
    hidden = [p for p in [home_path, *roots] if _under(p, _PROTECTED)]
    if hidden:
        # ProtectHome=yes would hide them; a tmpfs over /home and binds of just these.
        protect = ["ProtectHome=tmpfs"]
        if home_path in hidden:
            protect.append(f"BindPaths={home_text}")
        protect += [
            f"BindReadOnlyPaths={_path(p, 'the installation')}"
            for p in dict.fromkeys(hidden)
            if p != home_path
        ]
    installed = [p for p in roots if _under(p, _PROTECTED)]
    if installed:
        warnings.append(
            f"ilo-node is installed under {installed[0]}, inside a home directory: the "
            "service user may not be allowed to read it there; install it elsewhere (for "
            "example 'python3 -m venv /opt/ilo-node') and write the unit again from there"
        )
    private_tmp = "PrivateTmp=yes"
    if _under(home_path, _TEMPORARY):
        # PrivateTmp=yes would give the service an empty /tmp, without the home.
        private_tmp = "PrivateTmp=no"
        warnings.append(
            f"the home {home_path} is under a temporary directory: the unit runs without "
            "PrivateTmp=, and the system may clean the home away; keep a node's home in "
            "/var/lib/ilo-node/ or another lasting place"
        )
    if encrypted:
        credential_line = f"LoadCredentialEncrypted=passphrase:{credential_text}"
        source = f"{credential_text}, made with 'systemd-creds encrypt --name=passphrase'"
    else:
        credential_line = f"LoadCredential=passphrase:{credential_text}"
        source = f"{credential_text}, a file only root can read"
    template = resources.files("ilo_node.client").joinpath("units/ilo-node.service").read_text()
    values = {
        "@LABEL@": config.label,
        "@UNIT_NAME@": name,
        "@CREDENTIAL_SOURCE@": source,
        "@NODE@": node,
        "@NETWORK@": config.network,
        "@USER@": user,
        "@GROUP@": group,
        "@CREDENTIAL@": credential_line,
        "@EXEC@": program,
        "@HOME@": home_text,
        "@PROTECT_HOME@": "\n".join(protect),
        "@PRIVATE_TMP@": private_tmp,
    }
    text = re.sub(r"@[A-Z_]+@", lambda m: values[m.group(0)], template)
    return ServiceUnit(name, text, user, tuple(warnings))
