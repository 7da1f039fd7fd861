"""Prefect's clients of a plain-HTTP API load a bundle of one certificate (loopback_tls)."""

from __future__ import annotations

import ssl
from pathlib import Path

from deployments.loopback_tls import client_tls_environment, loopback_bundle
from deployments.stack import prefect_environment
from nastavnik.settings import Settings


def test_an_http_api_gets_a_bundle_of_one_certificate_made_once(tmp_path: Path) -> None:
    environment = client_tls_environment("http://127.0.0.1:4200/api", tmp_path)

    bundle = Path(environment["PREFECT_API_SSL_CERT_FILE"])
    context = ssl.create_default_context(cafile=str(bundle))
    assert context.cert_store_stats()["x509_ca"] == 1
    assert context.verify_mode == ssl.CERT_REQUIRED  # still verifying, should TLS ever be used
    made = bundle.read_bytes()
    assert loopback_bundle(tmp_path).read_bytes() == made  # kept, not made again
    assert [p.name for p in tmp_path.iterdir()] == [bundle.name]  # no partial file left


def test_an_https_api_keeps_prefects_own_bundle(tmp_path: Path) -> None:
    assert client_tls_environment("https://prefect.example.org/api", tmp_path) == {}
    assert list(tmp_path.iterdir()) == []


def test_the_embedded_stack_points_prefect_at_the_bundle_in_its_data_directory(
    tmp_path: Path,
) -> None:
    environment = prefect_environment(Settings(data_dir=tmp_path))

    assert environment["PREFECT_API_URL"].startswith("http://127.0.0.1:")
    assert environment["PREFECT_API_SSL_CERT_FILE"] == str(
        tmp_path.resolve() / "prefect" / "loopback-ca.pem"
    )
