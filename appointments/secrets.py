"""Calendar passwords at rest: AES-256-GCM under a key derived from RECORDINGS_KEY.

The product has one master key for data at rest (RECORDINGS_KEY, 64 hex characters); HKDF
derives a separate key for calendar credentials from it, and the practice id is the associated
data, so a ciphertext copied to another practice's row does not decrypt.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from contact_center.errors import DomainError

_INFO = b"contact-center calendar credentials v1"


class SecretError(DomainError):
    """The key is unset or wrong, or a stored secret was tampered with."""


def _cipher(hex_key: str) -> AESGCM:
    try:
        master = bytes.fromhex(hex_key)
    except ValueError:
        master = b""
    if len(master) != 32:
        raise SecretError("RECORDINGS_KEY is unset or not 64 hexadecimal characters")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master)
    return AESGCM(key)


def encrypt(hex_key: str, practice_id: int, plaintext: str) -> str:
    nonce = os.urandom(12)
    sealed = _cipher(hex_key).encrypt(nonce, plaintext.encode(), f"practice:{practice_id}".encode())
    return base64.b64encode(nonce + sealed).decode()


def decrypt(hex_key: str, practice_id: int, stored: str) -> str:
    if not stored:
        return ""
    try:
        raw = base64.b64decode(stored.encode(), validate=True)
        plain = _cipher(hex_key).decrypt(raw[:12], raw[12:], f"practice:{practice_id}".encode())
    except (ValueError, InvalidTag) as error:
        raise SecretError("the stored calendar password cannot be read with this key") from error
    return plain.decode()
