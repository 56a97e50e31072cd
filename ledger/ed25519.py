"""Ed25519 signing that keeps the GIL.

PyNaCl calls libsodium through cffi, which releases the GIL around every call. For
a 40 µs signature that is a loss on a busy server: the signing thread gives the GIL
away and then queues behind every other runnable thread to get it back (measured
here: one signature took over 15 ms with four busy threads beside it). The metering
path signs one receipt per call inside its group commit, so each release stalls the
commit that everyone else waits for.

This module calls the very same libsodium function that PyNaCl bundles
(``crypto_sign_ed25519_detached`` in ``nacl._sodium``) through ``ctypes.PyDLL``,
which does NOT release the GIL. Ed25519 is deterministic, so the signature is
byte-identical to PyNaCl's; that is checked once on first use, and anything
unexpected (another PyNaCl build, a missing symbol, a different answer) falls back
to PyNaCl for good.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable

from nacl.signing import SigningKey

__all__ = ["detached_signer"]

SignFn = Callable[[bytes], bytes]

_lock = threading.Lock()
_loaded = False
_raw: Callable[..., int] | None = None


def _load() -> Callable[..., int] | None:
    try:
        import nacl._sodium as sodium

        lib = ctypes.PyDLL(sodium.__file__)
        fn = lib.crypto_sign_ed25519_detached
    except (ImportError, OSError, AttributeError):
        return None
    fn.argtypes = [
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_ulonglong),
        ctypes.c_char_p,
        ctypes.c_ulonglong,
        ctypes.c_char_p,
    ]
    fn.restype = ctypes.c_int
    return fn


def _raw_sign(fn: Callable[..., int], secret: bytes, msg: bytes) -> bytes | None:
    out = ctypes.create_string_buffer(64)
    if fn(out, None, msg, len(msg), secret) != 0:
        return None
    return out.raw


def _checked() -> Callable[..., int] | None:
    global _loaded, _raw
    with _lock:
        if not _loaded:
            fn = _load()
            if fn is not None:
                probe = SigningKey(bytes(range(32)))
                msg = b"bashu.exchange/ed25519-self-test"
                got = _raw_sign(fn, bytes(probe._signing_key), msg)
                if got != bytes(probe.sign(msg).signature):
                    fn = None
            _raw, _loaded = fn, True
        return _raw


def detached_signer(key: SigningKey) -> SignFn:
    """A function returning the 64-byte Ed25519 signature of a message under ``key``."""
    fallback: SignFn = lambda msg: bytes(key.sign(msg).signature)  # noqa: E731
    fn = _checked()
    if fn is None:
        return fallback
    secret = bytes(key._signing_key)  # seed ‖ public key, libsodium's secret key form

    def sign(msg: bytes) -> bytes:
        sig = _raw_sign(fn, secret, msg)
        return sig if sig is not None else fallback(msg)

    return sign
