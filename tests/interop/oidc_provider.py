"""A test OpenID Connect provider for the interop tests, on loopback in a thread: discovery,
an authorization endpoint that signs its one user in at once (as a provider with a live
session does) and sends the browser back, a token endpoint that checks the client's secret
and the PKCE verifier and signs an ES256 ID token (PyJWT with cryptography, pinned in
requirements.txt), and its key set."""

import base64
import hashlib
import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

CLIENT_ID = "nomad-gateway"
CLIENT_SECRET = "interop-idp-secret"


class Provider:
    def __init__(self, user: dict):
        self.user = user
        self.key = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        self.jwk = {**jwk, "kid": "interop-1", "alg": "ES256", "use": "sig"}
        self.codes: dict[str, dict] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status: int, body: dict | None = None, location: str | None = None):
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                data = json.dumps(body or {}).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/.well-known/openid-configuration":
                    return self.answer(200, {
                        "issuer": provider.issuer,
                        "authorization_endpoint": f"{provider.issuer}/authorize",
                        "token_endpoint": f"{provider.issuer}/token",
                        "jwks_uri": f"{provider.issuer}/jwks",
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["ES256"],
                    })
                if url.path == "/jwks":
                    return self.answer(200, {"keys": [provider.jwk]})
                if url.path == "/authorize":
                    if (query.get("client_id") != CLIENT_ID
                            or query.get("code_challenge_method") != "S256"
                            or "openid" not in query.get("scope", "").split()):
                        return self.answer(400, {"error": "invalid_request"})
                    code = uuid.uuid4().hex
                    provider.codes[code] = query
                    back = query["redirect_uri"] + "?" + urllib.parse.urlencode(
                        {"code": code, "state": query["state"]})
                    return self.answer(302, location=back)
                return self.answer(404)

            def do_POST(self):
                if self.path != "/token":
                    return self.answer(404)
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self.answer(401, {"error": "invalid_client"})
                asked = provider.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "").encode()
                computed = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                if (not asked or computed != asked["code_challenge"]
                        or form.get("redirect_uri") != asked["redirect_uri"]):
                    return self.answer(400, {"error": "invalid_grant"})
                now = int(time.time())
                claims = {**provider.user, "iss": provider.issuer, "sub": "u-1", "aud": CLIENT_ID,
                          "iat": now, "exp": now + 300, "nonce": asked["nonce"]}
                token = jwt.encode(claims, provider.key, algorithm="ES256",
                                   headers={"kid": "interop-1"})
                return self.answer(200, {"access_token": "idp-access", "token_type": "Bearer",
                                         "id_token": token})

        return Handler
