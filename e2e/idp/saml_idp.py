#!/usr/bin/env python3
"""Loopback SAML 2.0 identity provider for Testvault's SAML service-provider tests.

Built on pysaml2 (signing via Debian's xmlsec1 binary). Rust integration tests start it as a
child process, read the single JSON line it prints on stdout, send AuthnRequests to /sso and
switch it, one response at a time, to hostile or broken responses via POST /__test/mode.

Env: IDP_SP_METADATA (required, SP metadata XML path; more service providers can be added later
with POST /__test/sp_metadata {"xml": ...}); IDP_CERT + IDP_KEY (optional PEM paths:
serve HTTPS with them, else plain HTTP). Logs go to stderr. See MODES below for test modes.
"""

import base64
import datetime as dt
import html
import json
import logging
import os
import re
import shutil
import signal
import ssl
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml, samlp, xmldsig
from saml2.attribute_converter import AttributeConverter
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.s_utils import sid
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT
from saml2.server import Server
from saml2.sigver import pre_signature_part
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

log = logging.getLogger("saml_idp")

DEFAULT_USER = {
    "name_id": "alice@example.test",
    "name_id_format": NAMEID_FORMAT_EMAILADDRESS,
    "email": "alice@example.test",
    "name": "Alice Example",
}
EVIL_EMAIL = "mallory@example.test"

# One-shot modes (POST /__test/mode), applied to the next response only. Unless stated below,
# the Response and its Assertion are both signed with the IdP key (RSA-SHA256, SHA-256 digests).
#   unsigned               neither Response nor Assertion signed
#   stripped               signed as usual, then every ds:Signature element cut out of the XML
#   response_only_signed   only the Response signed (positive variant)
#   assertion_only_signed  only the Assertion signed (positive variant)
#   xsw   (XSW7-like) Response is unsigned; the original, validly signed Assertion is moved into
#         samlp:Extensions and an unsigned evil copy (mallory, new ID) is the Response's Assertion
#   xsw2  (XSW8-like) the evil copy is the Response's Assertion and keeps a copy of the original
#         ds:Signature (still referencing the original ID); a ds:Object appended to that copy
#         holds the original, validly signed Assertion
#   xsw3  (XSW3-like) unsigned evil Assertion first, original signed Assertion after it
#   expired                issued 2 h ago; Conditions and SubjectConfirmationData expired 1 h ago
#   wrong_audience         Audience = https://someone-else.example
#   wrong_recipient        Destination and Recipient = WRONG_RECIPIENT (form still posts to ACS)
#   wrong_in_response_to   InResponseTo = _not-a-request-we-sent (Response and SubjectConfirmationData)
#   sha1                   RSA-SHA1 signatures with SHA-1 digests
#   other_key              signed by an unrelated "attacker" key; its cert is in ds:KeyInfo
MODES = {
    "unsigned", "stripped", "response_only_signed", "assertion_only_signed", "xsw", "xsw2",
    "xsw3", "expired", "wrong_audience", "wrong_recipient", "wrong_in_response_to", "sha1",
    "other_key",
}
WRONG_AUDIENCE = "https://someone-else.example"
WRONG_RECIPIENT = "https://someone-else.example/acs"
WRONG_IN_RESPONSE_TO = "_not-a-request-we-sent"
# Conventional prefixes instead of pysaml2's default ns0/ns1/ns2 (wrap_signature relies on them).
NSPAIR = {"samlp": samlp.NAMESPACE, "saml": saml.NAMESPACE, "ds": xmldsig.NAMESPACE}


def make_key_pair(directory, name, common_name):
    """Self-signed RSA-2048 certificate; returns (key_path, cert_path, cert_pem)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".crt")
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    with open(cert_path, "w") as f:
        f.write(cert_pem)
    return key_path, cert_path, cert_pem


def pem_body(cert_pem):
    return "".join(line for line in cert_pem.splitlines() if "-----" not in line)


def saml_time(delta):
    return (dt.datetime.now(dt.timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


class IdP:
    def __init__(self, base, sp_metadata, workdir):
        self.base = base
        self.entity_id = base + "/metadata"
        self.key, self.cert, self.cert_pem = make_key_pair(workdir, "idp", "Testvault test IdP")
        self.evil_key, _, evil_pem = make_key_pair(workdir, "attacker", "Testvault test IdP")
        self.evil_cert_b64 = pem_body(evil_pem)
        conf = IdPConfig().load({
            "entityid": self.entity_id,
            "xmlsec_binary": shutil.which("xmlsec1"),
            "key_file": self.key,
            "cert_file": self.cert,
            "metadata": {"local": [sp_metadata]},
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [
                    (base + "/sso", BINDING_HTTP_REDIRECT), (base + "/sso", BINDING_HTTP_POST)]},
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT],
                "want_authn_requests_signed": False,
                "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_BASIC}},
            }},
        })
        # Emit the attribute names exactly as given (default maps would rename them to urn:mace:...).
        names = {"email": "email", "displayName": "displayName"}
        conv = AttributeConverter()
        conv.from_dict({"identifier": NAME_FORMAT_BASIC, "to": names, "fro": names})
        conf.attribute_converters = [conv]
        self.server = Server(config=conf)
        self.metadata = create_metadata_string(None, config=conf, sign=False).decode()
        self.user = dict(DEFAULT_USER)
        self.mode = None
        self.lock = threading.Lock()

    def parse_request(self, saml_request, binding):
        """AuthnRequest -> (request id, ACS URL, SP entity id); the ACS must be in SP metadata."""
        req = self.server.parse_authn_request(saml_request, binding).message
        args = self.server.response_args(req, [BINDING_HTTP_POST])
        return args["in_response_to"], args["destination"], args["sp_entity_id"]

    def respond(self, in_response_to, acs, audience):
        """Build the (possibly sabotaged) Response XML for the current user; consumes the mode."""
        with self.lock:
            mode, self.mode, user = self.mode, None, dict(self.user)
            log.info("response mode=%s acs=%s in_response_to=%s", mode, acs, in_response_to)
            if mode == "wrong_in_response_to":
                in_response_to = WRONG_IN_RESPONSE_TO
            resp = self.server.create_authn_response(
                {"email": [user["email"]], "displayName": [user["name"]]},
                in_response_to, WRONG_RECIPIENT if mode == "wrong_recipient" else acs, audience,
                name_id=saml.NameID(format=user["name_id_format"], text=user["name_id"]),
                authn={"class_ref": saml.AUTHN_PASSWORD_PROTECTED, "authn_auth": self.entity_id},
                sign_response=False, sign_assertion=False)
            assertion = resp.assertion
            if mode == "wrong_audience":
                assertion.conditions.audience_restriction[0].audience[0].text = WRONG_AUDIENCE
            if mode == "expired":
                issued, expired = saml_time(dt.timedelta(hours=-2)), saml_time(dt.timedelta(hours=-1))
                resp.issue_instant = assertion.issue_instant = issued
                assertion.authn_statement[0].authn_instant = issued
                assertion.conditions.not_before = issued
                assertion.conditions.not_on_or_after = expired
                for confirmation in assertion.subject.subject_confirmation:
                    confirmation.subject_confirmation_data.not_on_or_after = expired

            sign_response = mode not in ("unsigned", "assertion_only_signed", "xsw", "xsw2", "xsw3")
            sign_assertion = mode not in ("unsigned", "response_only_signed")
            alg, digest = (SIG_RSA_SHA1, DIGEST_SHA1) if mode == "sha1" else (SIG_RSA_SHA256, DIGEST_SHA256)
            key, cert_b64 = (self.evil_key, self.evil_cert_b64) if mode == "other_key" else (self.key, self.server.sec.my_cert)
            to_sign = []  # inner first: the Response signature then covers the Assertion's
            for element, wanted in ((assertion, sign_assertion), (resp, sign_response)):
                if wanted:
                    element.signature = pre_signature_part(element.id, cert_b64, sign_alg=alg, digest_alg=digest)
                    to_sign.append((element.c_namespace + ":" + element.c_tag, element.id))
            xml = resp.to_string(nspair=NSPAIR).decode()
            for node_name, node_id in to_sign:
                xml = self.server.sec.sign_statement(xml, node_name, key_file=key, node_id=node_id)

            if mode == "stripped":
                xml = re.sub(r"<ds:Signature\b.*?</ds:Signature>", "", xml, flags=re.S)
            if mode in ("xsw", "xsw2", "xsw3"):
                xml = wrap_signature(xml, mode, user)
            return xml


def wrap_signature(xml, mode, user):
    """Signature-wrapping attacks on a Response whose (only) Assertion is signed, Response not."""
    m = re.search(r"<saml:Assertion\b.*?</saml:Assertion>", xml, flags=re.S)
    original = m.group(0)
    signature = re.search(r"<ds:Signature\b.*?</ds:Signature>", original, flags=re.S).group(0)
    evil = re.sub(r'\bID="[^"]+"', 'ID="%s"' % sid(), original, count=1)
    for old in {user["name_id"], user["email"]}:
        evil = evil.replace(">%s<" % html.escape(old, quote=False), ">%s<" % EVIL_EMAIL)
    if mode == "xsw":
        evil = evil.replace(signature, "")
        xml = xml[:m.start()] + evil + xml[m.end():]
        # samlp:Extensions goes right after the Response's saml:Issuer (schema order).
        issuer_end = xml.index("</saml:Issuer>") + len("</saml:Issuer>")
        return xml[:issuer_end] + "<samlp:Extensions>" + original + "</samlp:Extensions>" + xml[issuer_end:]
    if mode == "xsw2":
        decoy = signature.replace("</ds:Signature>", "<ds:Object>" + original + "</ds:Object></ds:Signature>")
        return xml[:m.start()] + evil.replace(signature, decoy) + xml[m.end():]
    evil = evil.replace(signature, "")  # xsw3
    return xml[:m.start()] + evil + original + xml[m.end():]


def post_form(acs, saml_response_xml, relay_state):
    b64 = base64.b64encode(saml_response_xml.encode()).decode()
    return (
        "<!DOCTYPE html>\n<html><body onload=\"document.forms[0].submit()\">\n"
        f'<form method="post" action="{html.escape(acs)}">'
        f'<input type="hidden" name="SAMLResponse" value="{b64}"/>'
        f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}"/>'
        '<noscript><button type="submit">Continue</button></noscript></form>\n</body></html>\n'
    )


class Handler(BaseHTTPRequestHandler):
    idp: IdP = None  # set in main()

    def send(self, status, body, content_type="text/html; charset=utf-8"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status, obj):
        self.send(status, json.dumps(obj), "application/json")

    def read_body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()

    def do_GET(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/metadata":
            self.send(200, self.idp.metadata, "application/samlmetadata+xml")
        elif url.path == "/sso":
            self.sso(query, BINDING_HTTP_REDIRECT)
        elif url.path == "/idp-initiated":
            if "acs" not in query or "audience" not in query:
                return self.send(400, "acs and audience query parameters are required\n", "text/plain")
            self.answer(None, query["acs"], query["audience"], "")
        else:
            self.send(404, "not found\n", "text/plain")

    def do_POST(self):
        path = urlparse(self.path).path
        if path == "/sso":
            return self.sso({k: v[0] for k, v in parse_qs(self.read_body()).items()}, BINDING_HTTP_POST)
        try:
            body = json.loads(self.read_body() or "{}")
        except ValueError:
            return self.send_json(400, {"error": "invalid JSON"})
        if path == "/__test/sp_metadata":
            # A service provider whose metadata only exists once the IdP's is known (it names
            # the IdP): loaded now, next to those from IDP_SP_METADATA.
            self.idp.server.metadata.load("inline", body.get("xml", ""))
            self.send_json(200, {"loaded": True})
        elif path == "/__test/user":
            self.idp.user = {**DEFAULT_USER, **{k: v for k, v in body.items() if k in DEFAULT_USER}}
            self.send_json(200, {"user": self.idp.user})
        elif path == "/__test/mode":
            if body.get("mode") not in MODES:
                return self.send_json(400, {"error": "unknown mode", "modes": sorted(MODES)})
            self.idp.mode = body["mode"]
            self.send_json(200, {"mode": self.idp.mode})
        else:
            self.send(404, "not found\n", "text/plain")

    def sso(self, params, binding):
        if "SAMLRequest" not in params:
            return self.send(400, "missing SAMLRequest\n", "text/plain")
        try:
            request_id, acs, sp_entity_id = self.idp.parse_request(params["SAMLRequest"], binding)
        except Exception as exc:  # pysaml2 raises many types; the test wants to see why
            log.exception("rejecting AuthnRequest")
            return self.send(400, f"bad AuthnRequest: {type(exc).__name__}: {exc}\n", "text/plain")
        self.answer(request_id, acs, sp_entity_id, params.get("RelayState", ""))

    def answer(self, in_response_to, acs, audience, relay_state):
        try:
            xml = self.idp.respond(in_response_to, acs, audience)
        except Exception as exc:  # e.g. an audience that is not in the SP metadata
            log.exception("cannot build a Response")
            return self.send(500, f"cannot build a Response: {type(exc).__name__}: {exc}\n", "text/plain")
        self.send(200, post_form(acs, xml, relay_state))

    def log_message(self, fmt, *args):
        log.info("%s %s", self.address_string(), fmt % args)


def main():
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="saml_idp %(levelname)s %(message)s")
    sp_metadata = os.environ["IDP_SP_METADATA"]
    cert, key = os.environ.get("IDP_CERT"), os.environ.get("IDP_KEY")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if cert and key:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        # Handshake in the handler thread, not in accept(), so one stuck client can't block others.
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    base = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so the temp dir is removed
    with tempfile.TemporaryDirectory(prefix="saml_idp_") as workdir:
        Handler.idp = idp = IdP(base, sp_metadata, workdir)
        print(json.dumps({
            "base": base, "entity_id": idp.entity_id, "metadata_url": base + "/metadata",
            "sso_url": base + "/sso", "signing_cert_pem": idp.cert_pem,
        }, separators=(",", ":")), flush=True)
        try:
            httpd.serve_forever()
        finally:
            httpd.server_close()


if __name__ == "__main__":
    main()
