"""Certificates for the hostnames nginx serves over TLS.

A hostname gets the certificate an operator put in ``MECH["TLS_CERT_DIR"]``
when that directory holds both ``<hostname>.crt`` (PEM, full chain) and
``<hostname>.key`` (PEM private key). Otherwise the registry makes a
self-signed pair for the hostname and keeps it under the nginx state dir,
readable by its owner only. A generated pair is reused until it comes within
``RENEW_BEFORE`` of its expiry, so reloads do not churn certificates.

Files found in the operator's directory are used as they are: nginx's own
``nginx -t`` is what judges them, before any reload.
"""

import datetime
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

logger = logging.getLogger(__name__)

VALIDITY = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=30)
PRIVATE_MODE = 0o600


@dataclass(frozen=True)
class CertificatePair:
    certificate: Path
    key: Path
    generated: bool


def file_stem(hostname):
    """A file name for a hostname; wildcards become ``_`` on disk."""
    return hostname.replace("*", "_")


def certificate_for(hostname, generated_dir, configured_dir=""):
    """The pair nginx should use for ``hostname``; may write files."""
    if configured_dir:
        stem = Path(configured_dir) / file_stem(hostname)
        certificate = Path(f"{stem}.crt")
        key = Path(f"{stem}.key")
        if certificate.is_file() and key.is_file():
            return CertificatePair(certificate, key, generated=False)

    generated_dir = Path(generated_dir)
    certificate = generated_dir / f"{file_stem(hostname)}.crt"
    key = generated_dir / f"{file_stem(hostname)}.key"
    if not _usable(certificate, key, hostname):
        generate_self_signed(hostname, certificate, key)
    return CertificatePair(certificate, key, generated=True)


def generate_self_signed(hostname, certificate_path, key_path, now=None):
    """Write a new self-signed certificate and key for ``hostname``."""
    now = now or datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _build_certificate(hostname, key, now)

    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    certificate_bytes = certificate.public_bytes(serialization.Encoding.PEM)

    Path(key_path).parent.mkdir(parents=True, exist_ok=True)
    write_private(key_path, key_bytes)
    write_private(certificate_path, certificate_bytes)
    logger.info("generated a self-signed certificate for %s", hostname)


def write_private(path, content):
    """Replace ``path`` atomically with a file only its owner can read."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(content)
    os.chmod(temporary, PRIVATE_MODE)
    os.replace(temporary, path)


def _build_certificate(hostname, key, now):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )


def _usable(certificate_path, key_path, hostname, now=None):
    """True when a generated pair exists, names ``hostname`` and stays valid."""
    if not (certificate_path.is_file() and key_path.is_file()):
        return False
    try:
        certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
        names = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.DNSName)
    except (ValueError, x509.ExtensionNotFound):
        return False

    now = now or datetime.datetime.now(datetime.UTC)
    expires_soon = certificate.not_valid_after_utc - now < RENEW_BEFORE
    return hostname in names and not expires_soon
