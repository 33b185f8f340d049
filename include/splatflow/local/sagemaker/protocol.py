"""The wire layer: SageMaker's JSON 1.1 protocol over HTTP, in front of ``SageMakerService``.

A request is ``POST /`` with ``X-Amz-Target: SageMaker.<Operation>`` and a JSON body; an error
is an HTTP 4xx/5xx with ``{"__type": code, "message": text}``, which botocore turns into a
``ClientError`` carrying the same code AWS would send. A test's ``FaultPlan`` may answer a call
with a throttle or a 5xx before the service sees it, as a busy AWS would. Requests are not
authenticated: the server binds to loopback unless told otherwise.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from splatflow.local.sagemaker.errors import SageMakerApiError, ValidationError
from splatflow.local.sagemaker.faults import FaultPlan
from splatflow.local.sagemaker.service import SageMakerService

log = logging.getLogger(__name__)

TARGET_PREFIX = "SageMaker."
CONTENT_TYPE = "application/x-amz-json-1.1"


def _handler_class(service: SageMakerService, faults: FaultPlan) -> type[BaseHTTPRequestHandler]:
    class SageMakerRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            target = self.headers.get("X-Amz-Target", "")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b"{}"
            try:
                if not target.startswith(TARGET_PREFIX):
                    raise ValidationError(f"Missing or unknown X-Amz-Target header: {target!r}")
                operation = target[len(TARGET_PREFIX) :]
                fault = faults.next_fault(operation, self.headers)
                if fault is not None:
                    raise fault
                try:
                    params = json.loads(body or b"{}")
                except json.JSONDecodeError:
                    raise ValidationError("The request body is not valid JSON") from None
                if not isinstance(params, dict):
                    raise ValidationError("The request body must be a JSON object")
                result = service.call(operation, params)
                self._reply(200, result)
            except SageMakerApiError as exc:
                log.info("%s -> %s: %s", target, exc.code, exc.message)
                self._reply(exc.status, {"__type": exc.code, "message": exc.message})
            except Exception as exc:
                log.exception("%s failed", target)
                self._reply(500, {"__type": "InternalFailure", "message": str(exc)})

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", self.headers.get("amz-sdk-invocation-id", "local"))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s - " + format, self.address_string(), *args)

    return SageMakerRequestHandler


class SageMakerServer:
    """The HTTP server in a background thread; ``url`` is the endpoint to give clients."""

    def __init__(self, service: SageMakerService, faults: FaultPlan, host: str, port: int) -> None:
        self.httpd = ThreadingHTTPServer((host, port), _handler_class(service, faults))
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="sagemaker-api", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
