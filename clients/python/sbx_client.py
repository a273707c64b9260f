"""Python client for the sbx code-execution API. Standard library only.

    >>> from sbx_client import run_code_safely
    >>> run_code_safely("print(2 + 2)")["stdout"]
    '4\\n'

Output as it is written: `Client.stream(job_id)` or `Client.stream(code=...)` (an iterator of Event), or
`run_code_safely(code, on_output=callback)`; input for an interactive job: `send_input`, `close_input`.

The server is SBX_URL (default http://127.0.0.1:3000); the key is SBX_API_KEY when the server has keys.
"""

import asyncio
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional

__all__ = [
    "Client",
    "Event",
    "EventStream",
    "SseParser",
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


def _utf8_pieces(text: str, max_bytes: Optional[int]) -> List[str]:
    """The text in pieces of at most max_bytes UTF-8 bytes each, never splitting a character; none for ""."""
    if not text:
        return []
    if max_bytes is None or _utf8_len(text) <= max_bytes:
        return [text]
    pieces, start, size = [], 0, 0
    for i, char in enumerate(text):
        n = _utf8_len(char)
        if size + n > max_bytes and i > start:
            pieces.append(text[start:i])
            start, size = i, 0
        size += n
    pieces.append(text[start:])
    return pieces


def _args_len(args: Any) -> int:
    return sum(_utf8_len(a) for a in args) if isinstance(args, list) else 0


_ERRORS = {"timeout": TimeoutExceededError, "memory_limit": MemoryLimitError, "security_violation": SecurityViolation}


def _api_error(err: urllib.error.HTTPError) -> ApiError:
    """The API's refusal as an ApiError: its JSON error body, and Retry-After when it says when to try again."""
    try:
        payload = json.loads(err.read() or b"{}")
    except ValueError:
        payload = {}
    # A proxy in front of the API may answer with HTML or a bare JSON value; keep the HTTP status anyway.
    if not isinstance(payload, dict):
        payload = {}
    code = payload.get("code", "http_error")
    after = (err.headers.get("retry-after") or "") if err.headers else ""
    return ApiError(err.code, code, payload.get("message", str(err)), payload.get("details"),
                    int(after) if after.isdigit() else None)


def _raise_for(result: Dict[str, Any]) -> None:
    status = result.get("status")
    if status != "ok":
        raise _ERRORS.get(status, ExecutionError)(result)


class Event(NamedTuple):
    """One event of a job's live stream (docs/api.md, "Live output").

    type is one of `status`, `stdout`, `stderr`, `truncated`, `run`, `result`; data is its JSON payload
    ({"text"} or {"base64"} for output, the job's view as GET /jobs/:id answers it for `result`); id is
    its SSE id, None only for a queued `status` (the queue's reading, not part of the stream)."""

    type: str
    data: Dict[str, Any]
    id: Optional[str] = None


EVENT_TYPES = ("status", "stdout", "stderr", "truncated", "run", "result")


class SseParser:
    """Server-Sent Events from bytes as they arrive, by the WHATWG rules: lines end in LF, CRLF or CR (even
    split between reads), `:` lines are comments (the server's heartbeats), several `data:` lines join
    with LF, and an event is dispatched at a blank line, so a block cut off by a dropped connection is
    never dispatched. `last_id` is the id of the last complete block that had one (kept across events
    without one, as EventSource keeps it), `retry_ms` the last `retry:`. Events of types this client does not know, and data that
    is not a JSON object, are skipped."""

    def __init__(self, last_id: Optional[str] = None):
        self.last_id = last_id
        self.retry_ms: Optional[int] = None
        self._buffer = b""
        self._after_cr = False
        self._started = False
        self._type = ""
        self._data: List[str] = []
        self._id: Optional[str] = None

    def feed(self, chunk: bytes) -> List[Event]:
        """The events the chunk completes, in order."""
        if self._after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._after_cr = chunk.endswith(b"\r")
        self._buffer += chunk
        # LF and CR never occur inside a UTF-8 character, so lines split as bytes decode whole.
        lines = self._buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._buffer = lines.pop()
        events = []
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            if not self._started:
                self._started = True
                line = line[1:] if line.startswith("\ufeff") else line
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> Optional[Event]:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            self._type = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._id = value
        elif field == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> Optional[Event]:
        kind, data, event_id = self._type or "message", self._data, self._id
        self._type, self._data, self._id = "", [], None
        # As EventSource: an id counts once its block is complete, even a block without data.
        if event_id is not None:
            self.last_id = event_id or None
        if not data or kind not in EVENT_TYPES:
            return None
        try:
            payload = json.loads("\n".join(data))
        except ValueError:
            return None
        return Event(kind, payload, event_id or None) if isinstance(payload, dict) else None


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
        # The most input one POST /jobs/:id/stdin may carry (GET /info limits.interactive): send_input
        # splits longer input into calls of at most this many bytes.
        self.max_input_call_bytes: Optional[int] = None
        # Per interactive job, the input bytes the server has accepted from this client (send_input).
        self._input_offsets: Dict[str, int] = {}

    def _open(self, method: str, path: str, body: Optional[Dict[str, Any]] = None,
              headers: Optional[Dict[str, str]] = None, timeout: Optional[float] = None) -> Any:
        """Sends a request and returns the open response (2xx); a refusal is raised as ApiError, no answer at
        all as ServerUnreachableError. The caller reads and closes the response."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        if self.api_key:
            req.add_header("authorization", f"Bearer {self.api_key}")
        try:
            return urllib.request.urlopen(req, timeout=self.timeout if timeout is None else timeout)
        except urllib.error.HTTPError as err:
            raise _api_error(err) from None
        except urllib.error.URLError as err:
            raise ServerUnreachableError(self.base_url, str(err.reason)) from None
        except (TimeoutError, ConnectionError) as err:
            raise ServerUnreachableError(self.base_url, str(err) or type(err).__name__) from None

    def _request(self, method: str, path: str, body: Optional[Dict[str, Any]] = None,
                 headers: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        res = self._open(method, path, body, headers)
        try:
            with res:
                return json.loads(res.read() or b"{}")
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
        interactive = limits.get("interactive") or {}
        self.max_input_call_bytes = interactive.get("max_input_call_bytes", self.max_input_call_bytes)
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

    def stream(self, job_id: Optional[str] = None, *, code: Optional[str] = None, stdin: Optional[str] = None,
               last_event_id: Optional[str] = None, retries: int = 5, idle_timeout: float = 45.0,
               idempotency_key: Optional[str] = None, **options: Any) -> "EventStream":
        """The job's live events as they happen, an iterator of Event ending with its `result`:

            for event in client.stream(job_id):
                if event.type in ("stdout", "stderr"):
                    print(event.data["text"], end="")

        Give a job id to watch a queued or finished job (from the start, or after `last_event_id`), or
        `code` (with stdin and any option of `run`: time_ms, tests, environment, interactive=True, ...)
        to run it and watch it in one round trip (POST /run, retried under one Idempotency-Key like
        `run`). A dropped connection is resumed with no gap or repeat; see EventStream."""
        if (job_id is None) == (code is None):
            raise ValueError("stream() takes a job id or code, not both")
        submission = None
        if code is not None:
            submission = self._body(code, stdin, options.pop("time_ms", None), options.pop("memory_mb", None),
                                    **options)
            self._check_sizes(submission)
        return EventStream(self, job_id, submission, idempotency_key=idempotency_key,
                           last_event_id=last_event_id, retries=retries, idle_timeout=idle_timeout)

    def send_input(self, job_id: str, data: str, *, offset: Optional[int] = None, retries: int = 2) -> Dict[str, Any]:
        """Appends `data` to the stdin of a job submitted with interactive=True; returns {offset, eof}, offset
        being the input bytes the server holds (after the submission's own stdin). The client keeps that
        offset per job and sends it with each call, so a call retried after a lost answer is never
        appended twice; give `offset` to continue from elsewhere (another process). Input longer than
        `max_input_call_bytes` (known after info()) goes in several calls."""
        at = self._input_offsets.get(job_id, 0) if offset is None else offset
        answer: Dict[str, Any] = {"offset": at, "eof": False}
        for piece in _utf8_pieces(data, self.max_input_call_bytes):
            answer = self._stdin(job_id, {"data": piece, "offset": at}, retries)
            at = answer.get("offset", at + _utf8_len(piece))
            self._input_offsets[job_id] = at
        return answer

    def close_input(self, job_id: str, *, offset: Optional[int] = None, retries: int = 2) -> Dict[str, Any]:
        """Closes an interactive job's stdin: the program reads end of file once it has read what was sent."""
        at = self._input_offsets.get(job_id, 0) if offset is None else offset
        answer = self._stdin(job_id, {"eof": True, "offset": at}, retries)
        self._input_offsets.pop(job_id, None)
        return answer

    def _stdin(self, job_id: str, body: Dict[str, Any], retries: int) -> Dict[str, Any]:
        """POST /jobs/:id/stdin, retried when no answer came: the offset makes a repeat a no-op."""
        path = "/jobs/%s/stdin" % urllib.parse.quote(job_id, safe="")
        for attempt in range(retries + 1):
            try:
                return self._request("POST", path, body)
            except (ServerUnreachableError, ApiError) as err:
                # The eof of an earlier try whose answer was lost is what closed it: done.
                if attempt > 0 and body.get("eof") and getattr(err, "code", None) == "stdin_closed":
                    return {"offset": body["offset"], "eof": True}
                if not _retriable(err) or attempt == retries:
                    raise
            time.sleep(min(0.2 * 2 ** attempt, 2.0))
        raise AssertionError("unreachable")

    async def async_run(self, code: str, stdin: Optional[str] = None, **kwargs: Any) -> Dict[str, Any]:
        """`run` without blocking the event loop: ``result = await client.async_run("print(1)")``."""
        return await asyncio.to_thread(self.run, code, stdin, **kwargs)

    async def async_submit(self, code: str, stdin: Optional[str] = None, **kwargs: Any) -> str:
        """`submit` without blocking the event loop: ``job_id = await client.async_submit("print(1)")``."""
        return await asyncio.to_thread(self.submit, code, stdin, **kwargs)

    async def async_wait(self, job_id: str, timeout: float = 60.0, poll_interval: float = 0.1) -> Dict[str, Any]:
        """`wait` without blocking the event loop: ``result = await client.async_wait(job_id)``."""
        return await asyncio.to_thread(self.wait, job_id, timeout, poll_interval)


SSE = "text/event-stream"
# The SSE reconnection delay until the server names one (it sends `retry:` with its first event).
DEFAULT_RETRY_MS = 1000
# Backoff doubles from the server's `retry:` per failed reconnection, up to this (seconds).
MAX_RECONNECT_DELAY = 30.0


def _retriable(err: Exception) -> bool:
    """Worth asking again: no answer, Redis or the queue briefly away (the job itself is safe in Redis), or a
    gateway in front of the API answering for it while it restarts. A full queue, a 404, a 413 are final."""
    if isinstance(err, ServerUnreachableError):
        return True
    return isinstance(err, ApiError) and (err.code in ("queue_unavailable", "not_replicated")
                                          or (err.code == "http_error" and err.status in (502, 503, 504)))


class EventStream:
    """The live events of one job, an iterator of Event (made by Client.stream).

    It ends after the `result` event (`result` then holds the job's result, as `wait` returns it), or at
    once when the server answers 204: the job finished and `last_event_id` was already its last event
    (`result` stays None; `Client.wait(job_id)` reads it). A dropped connection, or a stream that ends
    before its result (an API replica shutting down), is resumed from the last event delivered with
    Last-Event-ID: no event is missed or repeated. Reconnections wait the server's `retry:` (1 s), doubled
    per failure in a row up to 30 s, and at least any Retry-After; after `retries` failures in a row
    without a new event the last error is raised. A connection silent for `idle_timeout` seconds (the
    server sends a comment every 15 s) counts as dropped.

    A `run` event means a fault of ours started the job again: clear any output shown so far; the new
    attempt's output follows from its start. `job_id` is known from the first event on (for a new
    submission, from the stream's Location); `last_event_id` is the id of the last event delivered."""

    def __init__(self, client: "Client", job_id: Optional[str], submission: Optional[Dict[str, Any]], *,
                 idempotency_key: Optional[str], last_event_id: Optional[str], retries: int, idle_timeout: float):
        self.job_id = job_id
        self.last_event_id = last_event_id
        self.result: Optional[Dict[str, Any]] = None
        self._client = client
        self._submission = submission
        self._key = idempotency_key or os.urandom(16).hex()
        self._retries = retries
        self._idle_timeout = idle_timeout
        self._retry_ms = DEFAULT_RETRY_MS
        self._events = self._run()

    def __iter__(self) -> "EventStream":
        return self

    def __next__(self) -> Event:
        return next(self._events)

    def close(self) -> None:
        """Stops reading and closes the connection (leaving a `with` block or breaking a loop over a
        generator-closed stream does it too)."""
        self._events.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self) -> Iterator[Event]:
        failures = 0
        while True:
            parser = SseParser(self.last_event_id)
            res = None
            try:
                res = self._connect()
                if res is None:
                    return
                while True:
                    chunk = res.read1(65536)
                    if not chunk:
                        break
                    for event in parser.feed(chunk):
                        if event.id is not None:
                            failures, self.last_event_id = 0, event.id
                        if event.type == "result":
                            self.result = event.data.get("result")
                        yield event
                        if event.type == "result":
                            return
                error: Exception = ServerUnreachableError(self._client.base_url, "the event stream ended early")
            except (OSError, http.client.HTTPException) as err:
                error = ServerUnreachableError(self._client.base_url, str(err) or type(err).__name__)
            except (ServerUnreachableError, ApiError) as err:
                if not _retriable(err):
                    raise
                error = err
            finally:
                if res is not None:
                    res.close()
            self._retry_ms = parser.retry_ms or self._retry_ms
            failures += 1
            if failures > self._retries:
                raise error
            time.sleep(self._delay(failures, error))

    def _delay(self, failures: int, error: Exception) -> float:
        backoff = min(self._retry_ms / 1000 * 2 ** (failures - 1), MAX_RECONNECT_DELAY)
        return max(backoff, getattr(error, "retry_after", None) or 0)

    def _connect(self) -> Any:
        """The response to read events from, or None when there are none to read (204)."""
        if self._submission is not None:
            res = self._client._open("POST", "/run", self._submission,
                                     {"accept": SSE, "idempotency-key": self._key}, self._idle_timeout)
            # Queued: from here on, a resume is GET /jobs/:id/events, never a second submission.
            self._submission = None
            location = res.headers.get("location") or ""
            if location.startswith("/jobs/"):
                self.job_id = urllib.parse.unquote(location[len("/jobs/"):])
            if SSE in (res.headers.get("content-type") or ""):
                return res
            # Not one event to send (a replayed key whose result expired): the job's own answer.
            with res:
                self.job_id = json.loads(res.read() or b"{}").get("id", self.job_id)
        headers = {"accept": SSE}
        if self.last_event_id:
            headers["last-event-id"] = self.last_event_id
        path = "/jobs/%s/events" % urllib.parse.quote(str(self.job_id), safe="")
        res = self._client._open("GET", path, None, headers, self._idle_timeout)
        if res.status == 204:
            res.close()
            return None
        return res


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
                    environment: Optional[str] = None,
                    on_output: Optional[Callable[[str, str], None]] = None) -> Dict[str, Any]:
    """Runs untrusted code in a fresh gVisor sandbox and returns the result dict
    (at least stdout, stderr, exit_code, status). With raise_on_error=True a non-ok status raises
    TimeoutExceededError, MemoryLimitError, SecurityViolation or ExecutionError.

    >>> run_code_safely("while True: pass", time_ms=500)["status"]
    'timeout'

    With on_output, the output is streamed as the program writes it: on_output("stdout", text) or
    on_output("stderr", text) per piece, and on_output("run", "") if a fault of ours started the
    program again (what was passed so far is void; the new run's output follows). The result
    returned is the same as without it:

    >>> result = run_code_safely("print(1)", on_output=lambda stream, text: print(text, end=""))
    1
    """
    client = Client(base_url, api_key, timeout if timeout is not None else 90.0)
    if on_output is None:
        result = client.run(code, stdin, time_ms=time_ms, memory_mb=memory_mb, policy=policy, args=args,
                            environment=environment)
    else:
        result = _run_streamed(client, on_output, code=code, stdin=stdin, time_ms=time_ms,
                               memory_mb=memory_mb, policy=policy, args=args, environment=environment)
    if raise_on_error:
        _raise_for(result)
    return result


def _run_streamed(client: Client, on_output: Callable[[str, str], None], **submission: Any) -> Dict[str, Any]:
    """Runs the code through its event stream, passing each piece of output on; returns its result."""
    events = client.stream(**submission)
    with events:
        for event in events:
            if event.type in ("stdout", "stderr") and "text" in event.data:
                on_output(event.type, event.data["text"])
            elif event.type == "run":
                on_output("run", "")
    # A stream that ends without its result (204: the job finished while we were reconnecting, and the
    # server counts our last event as its last): the result is still the job's.
    return events.result if events.result is not None else client.wait(str(events.job_id))
