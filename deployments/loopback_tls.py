"""The certificate bundle Prefect's clients load when the Prefect API is plain HTTP.

Every Prefect client loads a CA bundle when it is made (``PREFECT_API_SSL_CERT_FILE``, else
certifi's ≈140 certificates: ≈45 ms each time on a 2-core machine), even for an ``http://`` API
that never uses it, and a flow run's process makes about six (its engine, its event and log
workers, its suspension observer and that one's version check): py-spy counted ≈9 s of CPU in
them over bench/year.py's school year, most of it while the run's process starts. For an
``http://`` API the stacks point the setting at this bundle instead: one self-signed
certificate whose key is thrown away when it is made, so it loads in well under a millisecond
and, should the URL ever be changed to ``https://`` without changing the bundle, verification
fails instead of trusting anything.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

BUNDLE_NAME = "loopback-ca.pem"


def plain_http(api_url: str) -> bool:
    """Whether Prefect's clients reach the API without TLS."""
    return api_url.startswith("http://")


def loopback_bundle(directory: Path) -> Path:
    """The bundle in ``directory``, made on first use (atomically: stacks may start together)."""
    path = directory / BUNDLE_NAME
    if path.exists():
        return path
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nastavnik: Prefect API over HTTP")])
    # A fixed validity: the certificate is never presented, only loaded.
    begins = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(begins)
        .not_valid_after(begins + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{BUNDLE_NAME}.{os.getpid()}"
    partial.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    partial.replace(path)
    return path


def client_tls_environment(api_url: str, directory: Path) -> dict[str, str]:
    """``PREFECT_API_SSL_CERT_FILE`` for an ``http://`` API (the bundle above), else nothing."""
    if not plain_http(api_url):
        return {}
    return {"PREFECT_API_SSL_CERT_FILE": str(loopback_bundle(directory))}
