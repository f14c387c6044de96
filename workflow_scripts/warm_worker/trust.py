"""What the warm worker trusts, and how it checks it before anything is unpickled.

A job's request and its reply are pickles, and unpickling runs code. So:

- The folder that holds the sockets, the key, the lock and the logs is the user's own: owned
  by them, mode 0700, not a symlink, checked by every client before it connects or starts a
  server and by every server before it listens. Then nobody but the user (and root) can
  create, replace or read a file in it; where the check fails the job runs in its own process.
- Every file in it is opened with ``O_NOFOLLOW``: a symlink planted there is refused, never
  followed.
- Each end asks the kernel who the other is (``SO_PEERCRED``) and refuses another uid.
- Each end then proves that it holds the user's key (32 random bytes in a 0600 file in the
  folder) by answering the other's fresh nonce with an HMAC-SHA256 bound to its own role, so an
  answer can be neither replayed nor reflected back; only then is a pickle sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import socket
import stat
import struct
import tempfile
from pathlib import Path

FOLDER_NAME = "workflow-warm-worker"
_KEY_BYTES = 32


class NotPrivate(Exception):
    """The worker's folder, or a file in it, is not the user's alone."""


class PeerRefused(Exception):
    """The other end of a connection is not this user's warm worker, or its client."""


def private_folder() -> Path:
    """The worker's folder, made if missing, proven private: ``WARM_WORKER_DIR``, else
    ``$XDG_RUNTIME_DIR/workflow-warm-worker`` (a per-user folder on systemd machines), else a
    per-user folder in the temporary directory. Raises :class:`NotPrivate`, naming it."""
    if os.environ.get("WARM_WORKER_DIR"):
        folder = Path(os.environ["WARM_WORKER_DIR"])
    elif os.environ.get("XDG_RUNTIME_DIR"):
        folder = Path(os.environ["XDG_RUNTIME_DIR"], FOLDER_NAME)
    else:
        folder = Path(tempfile.gettempdir(), f"{FOLDER_NAME}-{os.getuid()}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # someone's, maybe not ours: checked next
        folder.mkdir(mode=0o700)
    verify_private(folder)
    return folder


def verify_private(folder: Path) -> None:
    """Raise :class:`NotPrivate` unless ``folder`` is a folder (not a symlink to one) owned by
    this user that nobody else may enter."""
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode):
        problem = "is a symlink"
    elif not stat.S_ISDIR(info.st_mode):
        problem = "is not a folder"
    elif info.st_uid != os.getuid():
        problem = f"is owned by uid {info.st_uid}, not by this user ({os.getuid()})"
    elif info.st_mode & 0o077:
        problem = f"has mode {stat.S_IMODE(info.st_mode):04o}, open to others (0700 needed)"
    else:
        return
    raise NotPrivate(f"warm-worker folder {folder} {problem}")


def open_file(path: Path, flags: int) -> int:
    """A descriptor for a file in the worker's folder, never through a symlink; made 0600."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def secret_key(folder: Path) -> bytes:
    """The user's key in ``folder``, made on first use (32 random bytes, mode 0600)."""
    path = folder / "authkey"
    with contextlib.suppress(FileNotFoundError):
        return _read_key(path)
    staged = folder / f"authkey.{os.getpid()}"
    staged.unlink(missing_ok=True)
    with os.fdopen(open_file(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL), "wb") as stream:
        stream.write(secrets.token_bytes(_KEY_BYTES))
    with contextlib.suppress(FileExistsError):  # another process made it first: its key holds
        os.link(staged, path)  # whole or not at all, never half-written
    staged.unlink()
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    with os.fdopen(open_file(path, os.O_RDONLY), "rb") as stream:
        info = os.fstat(stream.fileno())
        key = stream.read(_KEY_BYTES + 1)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise NotPrivate(f"{path} is not a file of this user's that only they may read")
    if len(key) != _KEY_BYTES:
        raise NotPrivate(f"{path} does not hold a {_KEY_BYTES}-byte key")
    return key


def authenticate(channel: socket.socket, key: bytes, *, role: str) -> None:
    """Run by both ends, ``role`` "client" or "server": refuse a peer of another uid, prove
    that this end holds ``key`` and check that the peer does. Raises :class:`PeerRefused`."""
    uid = peer_uid(channel)
    if uid != os.getuid():
        raise PeerRefused(f"a peer of uid {uid}, not this user's ({os.getuid()})")
    nonce = secrets.token_bytes(_KEY_BYTES)
    send(channel, nonce)
    peer_nonce = receive(channel, limit=_KEY_BYTES)
    if peer_nonce is None or len(peer_nonce) != _KEY_BYTES:
        raise PeerRefused("the peer closed the connection before proving it holds the key")
    send(channel, _proof(key, role, peer_nonce))
    peer_role = "server" if role == "client" else "client"
    answer = receive(channel, limit=_KEY_BYTES) or b""
    if not hmac.compare_digest(answer, _proof(key, peer_role, nonce)):
        raise PeerRefused("the peer does not hold this user's warm-worker key")


def peer_uid(channel: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket, as the kernel recorded it."""
    credentials = channel.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", credentials)[1]  # pid, uid, gid


def _proof(key: bytes, role: str, nonce: bytes) -> bytes:
    return hmac.new(key, role.encode() + nonce, hashlib.sha256).digest()


def send(channel: socket.socket, payload: bytes) -> None:
    channel.sendall(struct.pack("!Q", len(payload)) + payload)


def receive(channel: socket.socket, limit: int | None = None) -> bytes | None:
    """One length-prefixed message, or None where the peer closed first; a message longer than
    ``limit`` (an unauthenticated peer's) raises :class:`PeerRefused` unread."""
    header = _receive_exactly(channel, 8)
    if header is None:
        return None
    size = struct.unpack("!Q", header)[0]
    if limit is not None and size > limit:
        raise PeerRefused(f"the peer sent {size} bytes where at most {limit} were due")
    return _receive_exactly(channel, size)


def _receive_exactly(channel: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = channel.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
