"""Python client for the sbx code-execution API. Standard library only.

    >>> from sbx_client import run_code_safely
    >>> run_code_safely("print(2 + 2)")["stdout"]
    '4\\n'

The server is SBX_URL (default http://127.0.0.1:3000); the key is SBX_API_KEY when the server has keys.
"""

import asyncio
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional

__all__ = [
    "Client",
    "run_code_safely",
    "SandboxError",
    "TimeoutExceededError",
    "MemoryLimitError",
    "SecurityViolation",
    "ExecutionError",
    "ApiError",
    "ServerUnreachableError",
    "save_artifacts",
]


class ApiError(Exception):
    """The API refused the request: `status` is the HTTP status, `code` the stable error code."""

    def __init__(self, status: int, code: str, message: str, details: Any = None,
                 retry_after: Optional[int] = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        # Seconds after which trying again can succeed (429 and 503 queue_full / tenant_queue_full).
        self.retry_after = retry_after


class ServerUnreachableError(Exception):
    """No answer from the API at all (refused, DNS, timeout): nothing was submitted or nothing came back.
    `url` is what was tried, `reason` what the network said."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"sbx API unreachable at {url}: {reason}")
        self.url = url
        self.reason = reason


class SandboxError(Exception):
    """The program ran but did not end well; `result` is the full result."""

    def __init__(self, result: Dict[str, Any]):
        super().__init__(f"{result.get('status')}: {result.get('message') or result.get('stderr', '')[-200:]}")
        self.result = result


class TimeoutExceededError(SandboxError):
    """status `timeout`: the time limit was exceeded."""


class MemoryLimitError(SandboxError):
    """status `memory_limit`: the memory limit was exceeded."""


class SecurityViolation(SandboxError):
    """status `security_violation`: the policy layer refused something the program tried."""


class ExecutionError(SandboxError):
    """Any other status but `ok` (runtime_error, output_limit, internal_error, cancelled)."""


def _utf8_len(text: Any) -> int:
    """UTF-8 bytes of a string as the server counts them, in JavaScript: surrogates travel as JSON escapes,
    a pair becomes one character (4 bytes) and a lone one U+FFFD (3 bytes)."""
    if not isinstance(text, str):
        return 0
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return len(text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode("utf-8"))


def _args_len(args: Any) -> int:
    return sum(_utf8_len(a) for a in args) if isinstance(args, list) else 0


_ERRORS = {"timeout": TimeoutExceededError, "memory_limit": MemoryLimitError, "security_violation": SecurityViolation}


def _raise_for(result: Dict[str, Any]) -> None:
    status = result.get("status")
    if status != "ok":
        raise _ERRORS.get(status, ExecutionError)(result)


class Client:
    """A connection to one sbx server.

    >>> c = Client("http://127.0.0.1:3000")
    >>> job_id = c.submit("print(1)")
    >>> c.wait(job_id)["stdout"]
    '1\\n'
    """

    def __init__(self, base_url: Optional[str] = None, api_key: Optional[str] = None, timeout: float = 90.0, *,
                 max_code_bytes: Optional[int] = None, max_input_bytes: Optional[int] = None):
        self.base_url = (base_url or os.environ.get("SBX_URL") or "http://127.0.0.1:3000").rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("SBX_API_KEY")
        self.timeout = timeout
        # The server's SBX_MAX_CODE_BYTES / SBX_MAX_STDIN_BYTES, once known (given here, or read by info()):
        # code or input over them is refused before a byte is sent, with the code the server would answer.
        self.max_code_bytes = max_code_bytes
        self.max_input_bytes = max_input_bytes

    def _request(self, method: str, path: str, body: Optional[Dict[str, Any]] = None,
                 headers: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        if self.api_key:
            req.add_header("authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                return json.loads(res.read() or b"{}")
        except urllib.error.HTTPError as err:
            try:
                payload = json.loads(err.read() or b"{}")
            except ValueError:
                payload = {}
            # A proxy in front of the API may answer with HTML or a bare JSON value; keep the HTTP status anyway.
            if not isinstance(payload, dict):
                payload = {}
            code = payload.get("code", "http_error")
            after = (err.headers.get("retry-after") or "") if err.headers else ""
            raise ApiError(err.code, code, payload.get("message", str(err)), payload.get("details"),
                           int(after) if after.isdigit() else None) from None
        except urllib.error.URLError as err:
            raise ServerUnreachableError(self.base_url, str(err.reason)) from None
        except (TimeoutError, ConnectionError) as err:
            raise ServerUnreachableError(self.base_url, str(err) or type(err).__name__) from None

    @staticmethod
    def _body(code: str, stdin: Optional[str], time_ms: Optional[int], memory_mb: Optional[int],
              **fields: Any) -> Dict[str, Any]:
        """The request body: fields left None are left out, so the server's defaults apply."""
        body: Dict[str, Any] = {"code": code}
        if stdin is not None:
            body["stdin"] = stdin
        limits = {k: v for k, v in (("time_ms", time_ms), ("memory_mb", memory_mb)) if v is not None}
        if limits:
            body["limits"] = limits
        body.update({name: value for name, value in fields.items() if value is not None})
        return body

    def _check_sizes(self, body: Dict[str, Any]) -> None:
        """Refuses, as the server would (same code, same figures), code or input over the known maxima.
        Input is counted as the server counts it: stdin, args, and each test's stdin, args and expected output."""
        code_bytes = _utf8_len(body.get("code"))
        if self.max_code_bytes is not None and code_bytes > self.max_code_bytes:
            raise ApiError(413, "code_too_large", f"code is {code_bytes} bytes; the maximum is {self.max_code_bytes}",
                           {"maximum": self.max_code_bytes})
        input_bytes = _utf8_len(body.get("stdin")) + _args_len(body.get("args"))
        for test in body.get("tests") or []:
            if isinstance(test, dict):
                input_bytes += (_utf8_len(test.get("stdin")) + _args_len(test.get("args"))
                                + _utf8_len(test.get("expected_output")))
        if self.max_input_bytes is not None and input_bytes > self.max_input_bytes:
            raise ApiError(413, "stdin_too_large", f"stdin, arguments and test data are {input_bytes} bytes together; "
                           f"the maximum is {self.max_input_bytes}", {"maximum": self.max_input_bytes})

    def _post_once(self, path: str, body: Dict[str, Any], idempotency_key: Optional[str],
                   retries: int) -> Dict[str, Any]:
        """POSTs with an Idempotency-Key and retries when the connection fails or the queue is briefly
        down: the server hands a retry the same job, so the code runs once however often we ask. Any other
        refusal, a 413 included, is final: sending the same body again would only be refused again."""
        self._check_sizes(body)
        headers = {"idempotency-key": idempotency_key or os.urandom(16).hex()}
        for attempt in range(retries + 1):
            try:
                return self._request("POST", path, body, headers)
            except ServerUnreachableError:
                if attempt == retries:
                    raise
            except ApiError as err:
                # not_replicated: queued but unconfirmed; the same key confirms that job, never a second.
                if err.code not in ("queue_unavailable", "not_replicated") or attempt == retries:
                    raise
            time.sleep(min(0.2 * 2 ** attempt, 2.0))
        raise AssertionError("unreachable")

    def run(self, code: str, stdin: Optional[str] = None, *, time_ms: Optional[int] = None,
            memory_mb: Optional[int] = None, policy: Optional[str] = None,
            tests: Optional[List[Dict[str, Any]]] = None, args: Optional[List[str]] = None,
            output_encoding: Optional[str] = None, idempotency_key: Optional[str] = None,
            retries: int = 2, environment: Optional[str] = None,
            figure_format: Optional[str] = None, lane: Optional[str] = None) -> Dict[str, Any]:
        """Runs the code and returns the result (waits by polling if the server answers 202).
        args become the program's sys.argv[1:]; output_encoding="base64" returns stdout and stderr
        as base64 of the exact bytes. environment="python-data" has numpy, pandas and matplotlib
        preloaded; its figures come back in result["artifacts"] (PNG, or figure_format="svg"), see
        save_artifacts. A dropped connection is retried `retries` times under one Idempotency-Key
        (random unless given), so the program never runs twice."""
        body = self._body(code, stdin, time_ms, memory_mb, policy=policy, tests=tests, args=args,
                          output_encoding=output_encoding, environment=environment,
                          figure_format=figure_format, lane=lane)
        answer = self._post_once("/run", body, idempotency_key, retries)
        if "status" in answer:
            return answer
        return self.wait(answer["id"])

    def submit(self, code: str, stdin: Optional[str] = None, *, time_ms: Optional[int] = None,
               memory_mb: Optional[int] = None, policy: Optional[str] = None,
               tests: Optional[List[Dict[str, Any]]] = None, args: Optional[List[str]] = None,
               output_encoding: Optional[str] = None, idempotency_key: Optional[str] = None,
               retries: int = 2, environment: Optional[str] = None,
               figure_format: Optional[str] = None, lane: Optional[str] = None) -> str:
        """Queues the code; returns the job id at once. Retried like `run`."""
        return self.enqueue(code, stdin, time_ms=time_ms, memory_mb=memory_mb, policy=policy, tests=tests,
                            args=args, output_encoding=output_encoding, idempotency_key=idempotency_key,
                            retries=retries, environment=environment, figure_format=figure_format,
                            lane=lane)["id"]

    def enqueue(self, code: str, stdin: Optional[str] = None, *, time_ms: Optional[int] = None,
                memory_mb: Optional[int] = None, policy: Optional[str] = None,
                tests: Optional[List[Dict[str, Any]]] = None, args: Optional[List[str]] = None,
                output_encoding: Optional[str] = None, idempotency_key: Optional[str] = None,
                retries: int = 2, environment: Optional[str] = None,
                figure_format: Optional[str] = None, lane: Optional[str] = None) -> Dict[str, Any]:
        """Queues the code like `submit`, and returns where it stands: {id, state, lane, position,
        eta_seconds}. position is the jobs that start before it; eta_seconds the estimated wait (None
        when the server has too little recent throughput to tell). lane is "batch" unless asked."""
        body = self._body(code, stdin, time_ms, memory_mb, policy=policy, tests=tests, args=args,
                          output_encoding=output_encoding, environment=environment,
                          figure_format=figure_format, lane=lane)
        return self._post_once("/jobs", body, idempotency_key, retries)

    def info(self) -> Dict[str, Any]:
        """The runtime, what the live workers run sandboxes on (`sandbox`), and the limits, policies
        and comparators this key may use. The client keeps the code and input maxima, and from then on
        refuses oversized code or input before sending it."""
        info = self._request("GET", "/info")
        limits = info.get("limits") or {}
        self.max_code_bytes = limits.get("code_bytes", self.max_code_bytes)
        self.max_input_bytes = limits.get("input_bytes", self.max_input_bytes)
        return info

    def get(self, job_id: str, wait: float = 0) -> Dict[str, Any]:
        """The job's view: {id, state: queued|running|completed, result?}; a queued job also has its
        lane, position (jobs that start before it) and eta_seconds. With `wait` (seconds), an
        unfinished job is answered when it completes or after that long (the server caps it)."""
        path = "/jobs/" + urllib.parse.quote(job_id, safe="")
        if wait > 0:
            path += "?wait_ms=%d" % int(wait * 1000)
        return self._request("GET", path)

    def wait(self, job_id: str, timeout: float = 60.0, poll_interval: float = 0.1) -> Dict[str, Any]:
        """Waits until the job completes and returns its result; raises TimeoutError after `timeout` s.
        Long polls (one request per 20 s at most); `poll_interval` spaces requests a server answers early."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                view = self.get(job_id, wait=max(0.0, min(deadline - time.monotonic(), 20.0)))
            except ServerUnreachableError:
                # The API restarting: the job lives in Redis, so ask again until the deadline.
                if time.monotonic() > deadline:
                    raise
                time.sleep(max(poll_interval, 0.25))
                continue
            if view.get("state") == "completed":
                return view["result"]
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {view.get('state')} after {timeout} s")
            time.sleep(poll_interval)

    async def async_run(self, code: str, stdin: Optional[str] = None, **kwargs: Any) -> Dict[str, Any]:
        """`run` without blocking the event loop: ``result = await client.async_run("print(1)")``."""
        return await asyncio.to_thread(self.run, code, stdin, **kwargs)

    async def async_submit(self, code: str, stdin: Optional[str] = None, **kwargs: Any) -> str:
        """`submit` without blocking the event loop: ``job_id = await client.async_submit("print(1)")``."""
        return await asyncio.to_thread(self.submit, code, stdin, **kwargs)

    async def async_wait(self, job_id: str, timeout: float = 60.0, poll_interval: float = 0.1) -> Dict[str, Any]:
        """`wait` without blocking the event loop: ``result = await client.async_wait(job_id)``."""
        return await asyncio.to_thread(self.wait, job_id, timeout, poll_interval)


def save_artifacts(result: Dict[str, Any], folder: str) -> List[str]:
    """Writes the result's artifacts (figures, files from /tmp/outputs) under `folder`, keeping their
    sub-folders, and returns the paths written. Names come from the sandbox: one that would land
    outside `folder` (absolute, or with ..) is refused with ValueError rather than written.

    >>> save_artifacts(client.run(code, environment="python-data"), "charts")
    ['charts/figure-1.png']
    """
    import base64

    root = os.path.realpath(folder)
    written = []
    for artifact in result.get("artifacts") or []:
        name = artifact["name"]
        path = os.path.realpath(os.path.join(root, name))
        if os.path.isabs(name) or not path.startswith(root + os.sep):
            raise ValueError("artifact name %r leaves the folder" % name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(base64.b64decode(artifact["data"]))
        written.append(os.path.join(folder, name))
    return written


def run_code_safely(code: str, stdin: Optional[str] = None, *, time_ms: Optional[int] = None,
                    memory_mb: Optional[int] = None, policy: Optional[str] = None, raise_on_error: bool = False,
                    base_url: Optional[str] = None, api_key: Optional[str] = None,
                    timeout: Optional[float] = None, args: Optional[List[str]] = None,
                    environment: Optional[str] = None) -> Dict[str, Any]:
    """Runs untrusted code in a fresh gVisor sandbox and returns the result dict
    (at least stdout, stderr, exit_code, status). With raise_on_error=True a non-ok status raises
    TimeoutExceededError, MemoryLimitError, SecurityViolation or ExecutionError.

    >>> run_code_safely("while True: pass", time_ms=500)["status"]
    'timeout'
    """
    client = Client(base_url, api_key, timeout if timeout is not None else 90.0)
    result = client.run(code, stdin, time_ms=time_ms, memory_mb=memory_mb, policy=policy, args=args,
                        environment=environment)
    if raise_on_error:
        _raise_for(result)
    return result
