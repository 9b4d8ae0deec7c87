"""The server: `python app.py SERVING_JSON PORT`. POST /predict {"payload": ...} -> the workload's answer."""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from infermeter.servers.common.serving_model import ServingModel

model = ServingModel.from_file(sys.argv[1])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the load generator's connections expect

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send(200 if self.path == "/health" else 404, b"{}")

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["payload"]
        self._send(200, json.dumps(model.predict([payload])[0]).encode())

    def log_message(self, *args: object) -> None:  # one line per request would be the log's whole content
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
