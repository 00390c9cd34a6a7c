"""A schema-only stand-in for the google provider, for offline ``terraform validate``.

Terraform starts it as a plugin (HashiCorp go-plugin over gRPC, tfplugin5):
it answers the handshake on stdout with its address and a self-signed
server certificate (Terraform always talks TLS to plugins), serves the schema
built by :mod:`tests.infra.standin.schema` (read from the file named by
``STANDIN_SCHEMA``), accepts every configuration it is asked to validate (the
checks are Terraform's own, against the schema) and refuses nothing else:
any RPC that would plan, apply or read is unimplemented.

Run only by Terraform, through the shim ``tests/infra/test_terraform_validate.py`` writes.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime
import os
import sys
import threading
from pathlib import Path

import grpc  # type: ignore[import-untyped]  # no stubs in the locked dependencies
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
PROTOCOL_VERSION = 5
HEALTH_SERVING = b"\x08\x01"  # grpc.health.v1.HealthCheckResponse{status: SERVING}


def _certificate() -> tuple[bytes, bytes, bytes]:
    """(key PEM, certificate PEM, certificate DER) for ``localhost``, as go-plugin makes them."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(hours=24))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (
        key_pem,
        certificate.public_bytes(serialization.Encoding.PEM),
        certificate.public_bytes(serialization.Encoding.DER),
    )


def _handlers(schema_response: bytes, stop: threading.Event) -> list[grpc.GenericRpcHandler]:
    def constant(answer: bytes) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(lambda _request, _context: answer)

    def echo_config(request: bytes, _context: grpc.ServicerContext) -> bytes:
        # PrepareProviderConfig.Request.config (1) and .Response.prepared_config (1) are
        # the same field: the request's bytes are the answer "config accepted as is".
        return request

    def shutdown(_request: bytes, _context: grpc.ServicerContext) -> bytes:
        stop.set()
        return b""

    provider = {
        "GetSchema": constant(schema_response),
        "PrepareProviderConfig": grpc.unary_unary_rpc_method_handler(echo_config),
        "ValidateResourceTypeConfig": constant(b""),
        "ValidateDataSourceConfig": constant(b""),
        "Stop": constant(b""),
    }
    return [
        grpc.method_handlers_generic_handler("tfplugin5.Provider", provider),
        grpc.method_handlers_generic_handler(
            "plugin.GRPCController", {"Shutdown": grpc.unary_unary_rpc_method_handler(shutdown)}
        ),
        grpc.method_handlers_generic_handler(
            "grpc.health.v1.Health", {"Check": constant(HEALTH_SERVING)}
        ),
    ]


def main() -> int:
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE:
        print("This is a Terraform plugin stand-in; Terraform runs it.", file=sys.stderr)
        return 1
    schema_response = Path(os.environ["STANDIN_SCHEMA"]).read_bytes()
    key_pem, cert_pem, cert_der = _certificate()
    stop = threading.Event()
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=4),
        handlers=_handlers(schema_response, stop),
        options=[("grpc.max_send_message_length", 64 * 1024 * 1024)],
    )
    # Terraform verifies this server's certificate. Its own client certificate
    # (PLUGIN_CLIENT_CERT) is not asked for: it is a P-521 key, whose signature
    # scheme gRPC's BoringSSL does not offer, so Terraform would send none. The
    # stand-in listens on loopback for the length of one `terraform validate`.
    credentials = grpc.ssl_server_credentials([(key_pem, cert_pem)])
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    certificate = base64.b64encode(cert_der).decode().rstrip("=")
    print(f"1|{PROTOCOL_VERSION}|tcp|127.0.0.1:{port}|grpc|{certificate}", flush=True)
    stop.wait()
    server.stop(grace=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
