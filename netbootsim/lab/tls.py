"""The lab's certificates for HTTPS: a CA the built iPXE trusts, and one it must reject.

``netbootsim lab tls --out DIR`` makes, with the ``openssl`` command (Debian's
``openssl`` package):

* ``ca.crt`` / ``ca.key``: the lab's root CA. Build iPXE trusting it:
  ``netbootsim lab build-ipxe --trust DIR/ca.crt``.
* ``server.crt`` / ``server.key``: the lab HTTPS server's certificate for the lab's
  server address (a subject alternative name of type IP), signed by that CA.
* ``rogue-ca.crt`` and ``rogue.crt`` / ``rogue.key``: the same server certificate
  signed by another CA, which the build does not trust: iPXE must refuse it.
* ``server-chain.crt``, ``rogue-chain.crt``: each certificate followed by its CA's, what
  the server sends. A build's ``TRUST=`` holds only the roots' fingerprints
  (``crypto/rootcert.c`` [ipxe-src]), so the CA certificate itself must come in the
  chain (without it iPXE 2.0 refused the lab server: ``x509_validate_chain``, "No
  usable certificates", error 0x0216eb3c).
* ``codesign.crt`` / ``codesign.key``: a code-signing certificate (extended key usage
  ``codeSigning``, which iPXE's ``imgverify`` requires: ``crypto/cms.c:810``
  [ipxe-src]) signed by the lab CA: the lab signs the files it serves with it for
  ``imgverify`` (``openssl cms``, :func:`sign`).

Keys are RSA 2048 with SHA-256 signatures, which every iPXE with HTTPS verifies
(``crypto/rsa.c``, ``crypto/x509.c`` [ipxe-src]); certificates are valid from a day
before they are made for ten years. The private keys are lab keys for a private
address inside the lab's network namespace; nothing outside it uses them.
"""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

__all__ = ["FILES", "make_pki", "sign"]

#: every file :func:`make_pki` writes
FILES = ("ca.crt", "ca.key", "server.crt", "server.key", "server-chain.crt", "rogue-ca.crt",
         "rogue-ca.key", "rogue.crt", "rogue.key", "rogue-chain.crt", "codesign.crt",
         "codesign.key")


def _openssl(*args: str, cwd: Path) -> None:
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                         check=False)
    if res.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {res.stderr.strip()[-500:]}")


def _ca(cwd: Path, name: str, subject: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", "-subj", subject,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=cwd)


#: Serial numbers of the leaves (each distinct under its CA).
_SERIALS = {"server": "1", "rogue": "2", "codesign": "3"}


def _leaf(cwd: Path, name: str, ca: str, ip: str) -> None:
    ext = cwd / f"{name}.ext"
    if name == "codesign":
        ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                       "extendedKeyUsage=codeSigning\n")
        subject = "/CN=netbootsim lab code signing"
    else:
        ext.write_text(f"subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\n"
                       "keyUsage=critical,digitalSignature,keyEncipherment\n"
                       "extendedKeyUsage=serverAuth\n")
        subject = f"/CN={ip}"
    _openssl("genrsa", "-out", f"{name}.key", "2048", cwd=cwd)
    _openssl("req", "-new", "-key", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
             cwd=cwd)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-set_serial", "0x" + _SERIALS[name] * 16, "-days", "3650",
             "-sha256", "-extfile", ext.name, "-out", f"{name}.crt", cwd=cwd)
    (cwd / f"{name}.csr").unlink()
    ext.unlink()


def make_pki(out: Path, server_ip: str) -> list[Path]:
    """Write :data:`FILES` into the (empty) directory ``out``; return their paths.

    Raises:
        ValueError: ``server_ip`` is not an IPv4 address.
        RuntimeError: openssl failed.
    """
    ipaddress.IPv4Address(server_ip)
    out.mkdir(parents=True, exist_ok=True)
    _ca(out, "ca", "/CN=netbootsim lab CA")
    _leaf(out, "server", "ca", server_ip)
    _ca(out, "rogue-ca", "/CN=netbootsim lab rogue CA (not trusted)")
    _leaf(out, "rogue", "rogue-ca", server_ip)
    _leaf(out, "codesign", "ca", server_ip)
    for leaf, ca in (("server", "ca"), ("rogue", "rogue-ca")):
        (out / f"{leaf}-chain.crt").write_text((out / f"{leaf}.crt").read_text() +
                                               (out / f"{ca}.crt").read_text())
    return [out / f for f in FILES]


def sign(path: Path, tls_dir: Path, out: Path) -> None:
    """Write ``out``: a detached CMS signature of ``path`` by the lab's code-signing key.

    DER, the signer's and the CA's certificates included, no signed attributes: what
    iPXE's ``imgverify`` reads (its documentation's ``openssl cms -sign -binary -noattr``
    recipe).
    """
    _openssl("cms", "-sign", "-binary", "-noattr", "-in", str(path),
             "-signer", str(tls_dir / "codesign.crt"), "-inkey", str(tls_dir / "codesign.key"),
             "-certfile", str(tls_dir / "ca.crt"), "-outform", "DER", "-out", str(out),
             cwd=out.parent)
