"""Locked private keys (keys.keystore) and their files (ilo_node.keyfiles).

Every lock or unlock runs Argon2id with the "interactive" profile (~0.1-0.5 s), so the
locked blobs are made once per module and the corruption cases that fail before the
KDF are kept apart from those that need it.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.pwhash import argon2id

from ilo_node.home import keyfiles
from ilo_node.home.keyfiles import (
    delete_private_key,
    read_private_key,
    resolve_passphrase,
    write_private_key,
    write_public_file,
)
from keys import keystore
from keys.errors import KeyStoreError, WrongPassphraseError
from keys.keystore import (
    KDF_PROFILES,
    SecretKey,
    generate_encryption_key,
    generate_signing_key,
    key_file_info,
    lock_secret,
    unlock_secret,
)
from protocol.errors import IloError, UsageError

PASSPHRASE = b"correct horse battery staple"
LABEL = "node fr-tun-1"

# RFC 8032 section 7.1, test 1, and RFC 7748 section 6.1 (Alice).
ED25519_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
ED25519_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
X25519_SECRET = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
X25519_PUBLIC = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")


@dataclass(frozen=True)
class Locked:
    key: SecretKey
    blob: bytes


@pytest.fixture(scope="module")
def signing() -> Locked:
    key = generate_signing_key()
    return Locked(key, lock_secret(key, PASSPHRASE, label=LABEL))


@pytest.fixture(scope="module")
def encryption() -> Locked:
    key = generate_encryption_key()
    return Locked(key, lock_secret(key, PASSPHRASE, label="prekey 2031-01"))


def forbidden_strings(key: SecretKey, passphrase: bytes = PASSPHRASE) -> list[str]:
    secret = key.reveal()
    return [
        secret.hex(),
        secret.hex().upper(),
        repr(secret),
        passphrase.decode("utf-8", "replace"),
        passphrase.hex(),
        repr(passphrase),
    ]


def assert_no_leak(text_or_error: object, key: SecretKey, passphrase: bytes = PASSPHRASE) -> None:
    if isinstance(text_or_error, IloError):
        texts = [
            str(text_or_error),
            repr(text_or_error),
            text_or_error.message,
            text_or_error.advice,
            text_or_error.diagnostics(),
        ]
    else:
        texts = [str(text_or_error), repr(text_or_error)]
    for text in texts:
        for forbidden in forbidden_strings(key, passphrase):
            assert forbidden not in text


def edit(blob: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    document = json.loads(blob)
    change(document)
    return json.dumps(document).encode()


def set_field(*path_and_value: Any) -> Callable[[dict[str, Any]], None]:
    *path, value = path_and_value

    def change(document: dict[str, Any]) -> None:
        target = document
        for name in path[:-1]:
            target = target[name]
        target[path[-1]] = value

    return change


def flip_ciphertext_byte(document: dict[str, Any]) -> None:
    raw = bytearray.fromhex(document["ciphertext"])
    raw[5] ^= 0x01
    document["ciphertext"] = raw.hex()


def private(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


# -- SecretKey --------------------------------------------------------------------------


def test_secret_key_derives_the_rfc_public_keys() -> None:
    assert SecretKey("ed25519", ED25519_SEED).public == ED25519_PUBLIC
    assert SecretKey("x25519", X25519_SECRET).public == X25519_PUBLIC


@pytest.mark.parametrize(
    ("kind", "secret"),
    [("rsa", ED25519_SEED), ("ed25519", ED25519_SEED[:31]), ("x25519", ED25519_SEED + b"\x00")],
    ids=["unknown kind", "short secret", "long secret"],
)
def test_secret_key_refuses_bad_arguments_without_echoing_them(kind: str, secret: bytes) -> None:
    with pytest.raises(UsageError) as caught:
        SecretKey(kind, secret)
    assert ED25519_SEED.hex()[:16] not in caught.value.message


def test_repr_and_str_show_kind_and_public_prefix_only() -> None:
    key = SecretKey("ed25519", ED25519_SEED)
    assert repr(key) == f"SecretKey(ed25519, public={ED25519_PUBLIC.hex()[:8]}…)"
    assert str(key) == repr(key)
    assert_no_leak(key, key)
    assert_no_leak(str([key, {"k": key}]), key)


def test_secret_key_cannot_be_pickled_or_copied() -> None:
    key = generate_signing_key()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(key, protocol=protocol)
    with pytest.raises(TypeError):
        copy.copy(key)
    with pytest.raises(TypeError):
        copy.deepcopy(key)
    with pytest.raises(TypeError):
        key.__getstate__()


def test_secret_key_compares_by_identity_only() -> None:
    a = SecretKey("ed25519", ED25519_SEED)
    b = SecretKey("ed25519", ED25519_SEED)
    assert a != b  # no content comparison, hence no timing side channel
    assert a.public == b.public


def test_generated_keys_are_distinct_and_of_their_kind() -> None:
    signing_key, encryption_key = generate_signing_key(), generate_encryption_key()
    assert (signing_key.kind, encryption_key.kind) == ("ed25519", "x25519")
    assert signing_key.reveal() != generate_signing_key().reveal()
    assert len(signing_key.public) == len(encryption_key.public) == 32


def test_kdf_profiles_are_libsodium_argon2id_constants() -> None:
    assert dict(KDF_PROFILES) == {
        "interactive": (argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE),
        "moderate": (argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE),
        "sensitive": (argon2id.OPSLIMIT_SENSITIVE, argon2id.MEMLIMIT_SENSITIVE),
    }
    with pytest.raises(TypeError):
        KDF_PROFILES["weak"] = (1, 8192)  # type: ignore[index]


# -- lock and unlock --------------------------------------------------------------------


@pytest.mark.parametrize("which", ["signing", "encryption"])
def test_round_trip(which: str, request: pytest.FixtureRequest) -> None:
    locked: Locked = request.getfixturevalue(which)
    key = unlock_secret(locked.blob, PASSPHRASE)
    assert key.kind == locked.key.kind
    assert key.public == locked.key.public
    assert key.reveal() == locked.key.reveal()


def test_locked_blob_is_readable_json_without_secrets(signing: Locked) -> None:
    document = json.loads(signing.blob.decode("utf-8"))
    assert document["format"] == "ilo-node-key"
    assert document["version"] == 1
    assert document["kind"] == "ed25519"
    assert document["label"] == LABEL
    assert document["public"] == signing.key.public.hex()
    assert document["kdf"]["alg"] == "argon2id13"
    assert (document["kdf"]["opslimit"], document["kdf"]["memlimit"]) == KDF_PROFILES["interactive"]
    assert document["aead"] == "xchacha20poly1305-ietf"
    assert_no_leak(signing.blob.decode(), signing.key)


def test_key_file_info_needs_no_passphrase(signing: Locked) -> None:
    info = key_file_info(signing.blob)
    assert info["kind"] == "ed25519"
    assert info["label"] == LABEL
    assert info["public"] == signing.key.public.hex()
    assert info["kdf"] == "argon2id13"
    assert info["kdf_profile"] == "interactive"
    assert (int(info["kdf_opslimit"]), int(info["kdf_memlimit"])) == KDF_PROFILES["interactive"]
    assert all(isinstance(value, str) for value in info.values())


def test_stronger_profiles_are_accepted_by_the_parser(signing: Locked) -> None:
    ops, mem = KDF_PROFILES["sensitive"]
    blob = edit(signing.blob, lambda d: d["kdf"].update(opslimit=ops, memlimit=mem))
    assert key_file_info(blob)["kdf_profile"] == "sensitive"


def test_wrong_passphrase(signing: Locked) -> None:
    with pytest.raises(WrongPassphraseError) as caught:
        unlock_secret(signing.blob, b"correct horse battery stapler")
    assert caught.value.message == (
        f"wrong passphrase for key file '{LABEL}', or the file was altered"
    )
    assert_no_leak(caught.value, signing.key)
    assert_no_leak(caught.value, signing.key, b"correct horse battery stapler")


def test_empty_passphrase_is_refused_on_lock(signing: Locked) -> None:
    with pytest.raises(KeyStoreError) as caught:
        lock_secret(signing.key, b"", label=LABEL)
    assert type(caught.value) is KeyStoreError
    assert "empty passphrase" in caught.value.message
    assert "passphrase" in caught.value.advice


@pytest.mark.parametrize(
    ("label", "profile"),
    [("", "interactive"), ("evil\x1b[2Jlabel", "interactive"), (LABEL, "paranoid")],
    ids=["empty label", "control characters in label", "unknown profile"],
)
def test_lock_refuses_bad_arguments(signing: Locked, label: str, profile: str) -> None:
    with pytest.raises(UsageError):
        lock_secret(signing.key, PASSPHRASE, label=label, profile=profile)


# Each case: what it breaks, how, the exact error class, and a phrase of the message.
CORRUPTIONS: list[tuple[str, Callable[[bytes, Locked], bytes], type[KeyStoreError], str]] = [
    (
        "truncated JSON",
        lambda blob, other: blob[: len(blob) // 2],
        KeyStoreError,
        "not valid JSON",
    ),
    (
        "flipped ciphertext byte",
        lambda blob, other: edit(blob, flip_ciphertext_byte),
        WrongPassphraseError,
        "or the file was altered",
    ),
    (
        "swapped public key",
        lambda blob, other: edit(blob, set_field("public", other.key.public.hex())),
        WrongPassphraseError,
        "or the file was altered",
    ),
    (
        "changed label",
        lambda blob, other: edit(blob, set_field("label", "node de-tun-1")),
        WrongPassphraseError,
        "key file 'node de-tun-1'",
    ),
    (
        "changed kind",
        lambda blob, other: edit(blob, set_field("kind", "x25519")),
        WrongPassphraseError,
        "or the file was altered",
    ),
    (
        "kdf opslimit lowered below minimum",
        lambda blob, other: edit(blob, set_field("kdf", "opslimit", 1)),
        KeyStoreError,
        "KDF opslimit 1, outside the accepted range",
    ),
    (
        "memlimit absurdly high",
        lambda blob, other: edit(blob, set_field("kdf", "memlimit", 100 * 2**30)),
        KeyStoreError,
        f"KDF memlimit {100 * 2**30} bytes, outside the accepted range",
    ),
    (
        "unknown version",
        lambda blob, other: edit(blob, set_field("version", 2)),
        KeyStoreError,
        "unsupported key file version 2",
    ),
    (
        "not JSON",
        lambda blob, other: b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n",
        KeyStoreError,
        "not an ilo-node key file (not valid JSON)",
    ),
    (
        "nonce wrong length",
        lambda blob, other: edit(blob, lambda d: d.update(nonce=d["nonce"][:-2])),
        KeyStoreError,
        "key file is corrupted: field 'nonce' must be 24 bytes",
    ),
]


@pytest.mark.parametrize(
    ("corrupt", "error", "phrase"),
    [case[1:] for case in CORRUPTIONS],
    ids=[case[0] for case in CORRUPTIONS],
)
def test_corrupted_key_file(
    signing: Locked,
    encryption: Locked,
    corrupt: Callable[[bytes, Locked], bytes],
    error: type[KeyStoreError],
    phrase: str,
) -> None:
    with pytest.raises(KeyStoreError) as caught:
        unlock_secret(corrupt(signing.blob, encryption), PASSPHRASE)
    assert type(caught.value) is error
    assert phrase in caught.value.message
    assert_no_leak(caught.value, signing.key)


# Further strictness; all of these fail while parsing, before the (costly) KDF.
PARSE_FAILURES: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("not UTF-8", lambda blob: b"\xff" + blob, "not UTF-8"),
    ("JSON array", lambda blob: b"[]", "field 'format'"),
    ("other format", lambda blob: edit(blob, set_field("format", "openssh")), "field 'format'"),
    ("version as bool", lambda blob: edit(blob, set_field("version", True)), "'version'"),
    ("version as string", lambda blob: edit(blob, set_field("version", "1")), "'version'"),
    ("kind unknown", lambda blob: edit(blob, set_field("kind", "rsa")), "field 'kind'"),
    ("label missing", lambda blob: edit(blob, lambda d: d.pop("label")), "'label' is missing"),
    ("label with escape", lambda blob: edit(blob, set_field("label", "a\x1bb")), "'label'"),
    ("public short", lambda blob: edit(blob, set_field("public", "ab" * 31)), "'public'"),
    (
        "public upper case",
        lambda blob: edit(blob, lambda d: d.update(public=d["public"].upper())),
        "'public'",
    ),
    (
        "public with spaces",
        lambda blob: edit(blob, set_field("public", "ab " * 21 + "a")),
        "'public'",
    ),
    (
        "salt wrong length",
        lambda blob: edit(blob, set_field("kdf", "salt", "00" * 8)),
        "'kdf.salt'",
    ),
    ("kdf alg argon2i", lambda blob: edit(blob, set_field("kdf", "alg", "argon2i13")), "'kdf.alg'"),
    ("kdf not an object", lambda blob: edit(blob, set_field("kdf", [])), "'kdf'"),
    (
        "opslimit as float",
        lambda blob: edit(blob, set_field("kdf", "opslimit", 2.0)),
        "'kdf.opslimit'",
    ),
    (
        "opslimit above sensitive",
        lambda blob: edit(blob, set_field("kdf", "opslimit", 5)),
        "opslimit 5",
    ),
    (
        "memlimit below interactive",
        lambda blob: edit(blob, set_field("kdf", "memlimit", 8192)),
        "memlimit 8192",
    ),
    ("aead unknown", lambda blob: edit(blob, set_field("aead", "aes256gcm")), "field 'aead'"),
    (
        "ciphertext truncated",
        lambda blob: edit(blob, lambda d: d.update(ciphertext=d["ciphertext"][:-2])),
        "'ciphertext'",
    ),
    (
        "unknown field",
        lambda blob: edit(blob, set_field("comment", "hi")),
        "unknown field 'comment'",
    ),
    (
        "unknown kdf field",
        lambda blob: edit(blob, set_field("kdf", "p", 1)),
        "unknown field 'kdf.p'",
    ),
    (
        "duplicate field",
        lambda blob: blob.replace(b'"kind"', b'"kind": "x25519", "kind"', 1),
        "field 'kind' appears twice",
    ),
    ("NaN", lambda blob: blob.replace(b'"version": 1', b'"version": NaN', 1), "not valid JSON"),
    ("huge file", lambda blob: blob + b" " * keystore.MAX_KEY_FILE_BYTES, "larger than"),
]


@pytest.mark.parametrize(
    ("corrupt", "phrase"),
    [case[1:] for case in PARSE_FAILURES],
    ids=[case[0] for case in PARSE_FAILURES],
)
def test_strict_parsing(signing: Locked, corrupt: Callable[[bytes], bytes], phrase: str) -> None:
    blob = corrupt(signing.blob)
    for attempt in (key_file_info, lambda data: unlock_secret(data, PASSPHRASE)):
        with pytest.raises(KeyStoreError) as caught:
            attempt(blob)
        assert type(caught.value) is KeyStoreError
        assert phrase in caught.value.message
        assert caught.value.message.isprintable()


def test_secret_that_does_not_match_the_public_key_is_refused(
    signing: Locked, encryption: Locked
) -> None:
    # A writer that knew the passphrase but recorded the wrong public key: the AEAD
    # authenticates the lie, so only the derivation check catches it.
    ops, mem = KDF_PROFILES["interactive"]
    header = keystore._Header(
        kind="ed25519",
        label=LABEL,
        public=encryption.key.public,
        opslimit=ops,
        memlimit=mem,
        salt=os.urandom(16),
    )
    blob = keystore._seal(header, signing.key.reveal(), PASSPHRASE)
    with pytest.raises(KeyStoreError) as caught:
        unlock_secret(blob, PASSPHRASE)
    assert type(caught.value) is KeyStoreError
    assert "does not derive the public key" in caught.value.message
    assert_no_leak(caught.value, signing.key)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_only_raise_key_store_errors(data: bytes) -> None:
    with pytest.raises(KeyStoreError):
        key_file_info(data)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_fields_never_escape_the_hierarchy(signing: Locked, data: st.DataObject) -> None:
    # key_file_info shares unlock_secret's parser and runs no KDF, so this is cheap.
    document = json.loads(signing.blob)
    target = data.draw(st.sampled_from([document, document["kdf"]]))
    name = data.draw(st.sampled_from(sorted(target)))
    target[name] = data.draw(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.lists(st.none())
    )
    try:
        info = key_file_info(json.dumps(document).encode())
    except KeyStoreError as exc:
        assert exc.message.isprintable()
        return
    assert all(isinstance(value, str) for value in info.values())


# -- files ------------------------------------------------------------------------------


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "keys" / "signing.key"


def test_write_then_read_private_key(key_path: Path, signing: Locked) -> None:
    write_private_key(key_path, signing.key, PASSPHRASE, label=LABEL)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    assert [p.name for p in key_path.parent.iterdir()] == ["signing.key"]  # no temp left
    key = read_private_key(key_path, PASSPHRASE)
    assert key.public == signing.key.public
    assert key.reveal() == signing.key.reveal()


def test_private_key_mode_does_not_depend_on_umask(key_path: Path) -> None:
    old = os.umask(0)
    try:
        keyfiles._make_private_dir(key_path.parent)
        keyfiles._atomic_write(key_path, b"{}", 0o600, overwrite=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700


def test_overwrite_is_refused_unless_asked(key_path: Path, signing: Locked) -> None:
    key_path.parent.mkdir(parents=True)
    private(key_path, signing.blob)
    with pytest.raises(KeyStoreError) as caught:
        write_private_key(key_path, generate_signing_key(), PASSPHRASE, label=LABEL)
    assert "already exists" in caught.value.message
    assert key_path.read_bytes() == signing.blob

    # The atomic step refuses too, should the file appear after the first check.
    with pytest.raises(KeyStoreError, match="already exists"):
        keyfiles._atomic_write(key_path, b"{}", 0o600, overwrite=False)
    assert key_path.read_bytes() == signing.blob
    assert [p.name for p in key_path.parent.iterdir()] == ["signing.key"]

    replacement = generate_encryption_key()
    write_private_key(key_path, replacement, PASSPHRASE, label="prekey", overwrite=True)
    assert key_file_info(key_path.read_bytes())["public"] == replacement.public.hex()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o660])
def test_key_file_accessible_to_others_is_refused(
    tmp_path: Path, signing: Locked, mode: int
) -> None:
    path = private(tmp_path / "signing.key", signing.blob, mode)
    with pytest.raises(KeyStoreError) as caught:
        read_private_key(path, PASSPHRASE)
    assert type(caught.value) is KeyStoreError
    assert f"mode {mode:04o}" in caught.value.message
    assert f"chmod 600 {path}" in caught.value.advice


def test_read_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="no key file at"):
        read_private_key(tmp_path / "missing.key", PASSPHRASE)
    with pytest.raises(KeyStoreError, match="is not a regular file"):
        read_private_key(tmp_path, PASSPHRASE)
    garbage = private(tmp_path / "notes.txt", b"shopping list\n")
    with pytest.raises(KeyStoreError, match="not an ilo-node key file"):
        read_private_key(garbage, PASSPHRASE)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "signing.key"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(KeyStoreError, match="is not a regular file"):
        read_private_key(fifo, PASSPHRASE)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_key_file(tmp_path: Path, signing: Locked) -> None:
    path = private(tmp_path / "signing.key", signing.blob, 0o000)
    with pytest.raises(KeyStoreError, match="permission denied"):
        read_private_key(path, PASSPHRASE)


def test_read_errors_name_the_path_and_keep_their_class(tmp_path: Path, signing: Locked) -> None:
    path = private(tmp_path / "signing.key", signing.blob)
    with pytest.raises(WrongPassphraseError) as caught:
        read_private_key(path, b"not the passphrase")
    assert caught.value.message.startswith(f"{path}: wrong passphrase for key file '{LABEL}'")
    assert_no_leak(caught.value, signing.key)
    assert_no_leak(caught.value, signing.key, b"not the passphrase")


def test_delete_private_key(tmp_path: Path, signing: Locked) -> None:
    path = private(tmp_path / "old.key", signing.blob)
    link = tmp_path / "link.key"
    link.symlink_to(path)
    with pytest.raises(KeyStoreError, match="not a regular file"):
        delete_private_key(link)
    delete_private_key(path)
    assert not path.exists()
    with pytest.raises(KeyStoreError, match="no key file at"):
        delete_private_key(path)


def test_write_public_file_is_atomic_and_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "out" / "node.pub"
    old = os.umask(0o077)
    try:
        write_public_file(path, b"first\n")
        write_public_file(path, b"second\n")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"second\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["node.pub"]


# -- passphrases ------------------------------------------------------------------------


class Prompt:
    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, what: str, confirm: bool) -> str:
        self.calls.append((what, confirm))
        return self.answer


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    return private(tmp_path / "passphrase", b"from file\n")


def resolve(
    passphrase_file: Path | None = None,
    environ: dict[str, str] | None = None,
    prompt: Prompt | None = None,
    confirm: bool = False,
) -> bytes:
    return resolve_passphrase(
        passphrase_file=passphrase_file,
        environ={} if environ is None else environ,
        prompt=prompt,
        confirm=confirm,
        what="the signing key",
    )


def test_passphrase_file_wins_over_environment_and_prompt(passphrase_file: Path) -> None:
    prompt = Prompt("from prompt")
    environ = {"ILO_NODE_PASSPHRASE": "from env"}
    assert resolve(passphrase_file, environ, prompt) == b"from file"
    assert prompt.calls == []


def test_environment_wins_over_prompt() -> None:
    prompt = Prompt("from prompt")
    assert resolve(None, {"ILO_NODE_PASSPHRASE": "från env"}, prompt) == "från env".encode()
    assert prompt.calls == []


def test_prompt_is_last_and_gets_what_and_confirm() -> None:
    prompt = Prompt("from prompt")
    assert resolve(None, {"OTHER": "x"}, prompt, confirm=True) == b"from prompt"
    assert prompt.calls == [("the signing key", True)]


def test_no_source_is_an_error() -> None:
    with pytest.raises(KeyStoreError) as caught:
        resolve(None, {})
    assert caught.value.message == (
        "no passphrase for the signing key: set ILO_NODE_PASSPHRASE, pass "
        "--passphrase-file, or run in a terminal"
    )


def test_empty_sources_are_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="set but empty"):
        resolve(None, {"ILO_NODE_PASSPHRASE": ""}, Prompt("unused"))
    with pytest.raises(KeyStoreError, match="no passphrase entered"):
        resolve(None, {}, Prompt(""))
    with pytest.raises(KeyStoreError, match="is empty"):
        resolve(private(tmp_path / "empty", b"\n"))
    with pytest.raises(KeyStoreError, match="no passphrase file at"):
        resolve(tmp_path / "missing")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"secret words\n", b"secret words"),
        (b"secret words", b"secret words"),
        (b"secret words\r\n", b"secret words"),
        (b"secret words\n\n", b"secret words\n"),
        (b" secret words \n", b" secret words "),
    ],
    ids=["newline", "no newline", "CRLF", "only one newline", "spaces kept"],
)
def test_passphrase_file_strips_one_trailing_newline(
    tmp_path: Path, content: bytes, expected: bytes
) -> None:
    assert resolve(private(tmp_path / "passphrase", content)) == expected


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
def test_passphrase_file_accessible_to_others_is_refused(passphrase_file: Path, mode: int) -> None:
    os.chmod(passphrase_file, mode)
    with pytest.raises(KeyStoreError) as caught:
        resolve(passphrase_file, {"ILO_NODE_PASSPHRASE": "not a fallback"})
    assert f"chmod 600 {passphrase_file}" in caught.value.advice
    assert "from file" not in caught.value.message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /dev/fd")
def test_passphrase_from_a_pipe() -> None:
    # What --passphrase-file <(pass show ilo-node) hands us.
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"piped words\n")
        os.close(write_end)
        assert resolve(Path(f"/dev/fd/{read_end}")) == b"piped words"
    finally:
        os.close(read_end)


# -- nothing secret in any message ------------------------------------------------------


def every_error(locked: Locked, tmp_path: Path) -> Iterator[IloError]:
    """Provoke every error path that has the key or passphrase at hand (few KDF calls)."""
    path = private(tmp_path / "signing.key", locked.blob)
    attempts: list[Callable[[], object]] = [
        lambda: unlock_secret(locked.blob, PASSPHRASE + b"!"),
        lambda: read_private_key(path, b"correct horse"),
        lambda: lock_secret(locked.key, b"", label=LABEL),
        lambda: lock_secret(locked.key, PASSPHRASE, label=LABEL, profile="nope"),
        lambda: write_private_key(path, locked.key, PASSPHRASE, label=LABEL),
        lambda: resolve(private(tmp_path / "pw", PASSPHRASE, 0o644)),
        lambda: read_private_key(private(tmp_path / "open.key", locked.blob, 0o644), PASSPHRASE),
        lambda: SecretKey("ed448", locked.key.reveal()),
        lambda: SecretKey(locked.key.kind, locked.key.reveal() + b"\x00"),
    ]
    for _, corrupt, error, _ in CORRUPTIONS:
        if error is KeyStoreError:  # the parse failures; no KDF needed
            attempts.append(partial(unlock_secret, corrupt(locked.blob, locked), PASSPHRASE))
    for attempt in attempts:
        with pytest.raises(IloError) as caught:
            attempt()
        yield caught.value


def test_no_secret_or_passphrase_in_any_message(signing: Locked, tmp_path: Path) -> None:
    errors = list(every_error(signing, tmp_path))
    assert len(errors) == 9 + sum(c[2] is KeyStoreError for c in CORRUPTIONS)
    for error in errors:
        assert_no_leak(error, signing.key)
        assert_no_leak(error, signing.key, PASSPHRASE + b"!")
    assert_no_leak(signing.key, signing.key)
    assert_no_leak(key_file_info(signing.blob), signing.key)
    assert_no_leak(signing.blob.decode(), signing.key)
