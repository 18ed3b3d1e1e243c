"""A tiny in-process NGSIv2 broker for the security suites: answers
/v2/op/update with 204, records every request, optionally over HTTPS and
behind an OAuth2 (Keyrock-style) token endpoint."""
from __future__ import annotations

import base64
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class BrokerStub:
    def __init__(self, cert: tuple | None = None, client_id: str = "", client_secret: str = ""):
        self.requests: list[dict] = []
        self.token_requests: list[dict] = []
        self.client_id, self.client_secret = client_id, client_secret
        self.valid_tokens: set[str] = set()
        self.issued = 0
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path == "/oauth2/token":
                    stub._token(self, headers, body)
                    return
                with stub.lock:
                    stub.requests.append({"path": self.path, "headers": headers,
                                          "body": body.decode()})
                    authorized = not stub.client_id or \
                        headers.get("x-auth-token") in stub.valid_tokens
                self.send_response(204 if authorized else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _token(self, handler, headers, body):
        expected = "Basic " + base64.b64encode(
            f"{self.client_id}:{self.client_secret}".encode()).decode()
        with self.lock:
            self.token_requests.append({"headers": headers, "body": body.decode()})
            if headers.get("authorization") != expected or \
                    b"grant_type=client_credentials" not in body:
                status, answer = 401, {"error": "invalid_client"}
            else:
                self.issued += 1
                token = f"access-{self.issued}"
                self.valid_tokens.add(token)
                status, answer = 200, {"access_token": token, "token_type": "Bearer",
                                       "expires_in": 3600}
        data = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def revoke_all(self):
        with self.lock:
            self.valid_tokens.clear()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
