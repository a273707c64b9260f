"""Runs against a live sbx API: SBX_TEST_URL must point at it (test/sandbox/clients.test.ts sets it)."""

import asyncio
import contextlib
import http.server
import json
import os
import socket
import sys
import threading
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import sbx_client  # noqa: E402
from sbx_client import (  # noqa: E402
    ApiError,
    Client,
    MemoryLimitError,
    SecurityViolation,
    ServerUnreachableError,
    TimeoutExceededError,
    run_code_safely,
)

URL = os.environ.get("SBX_TEST_URL")
if not URL:
    raise SystemExit("SBX_TEST_URL is required: the URL of a running sbx API")


def send_json(handler, status, payload):
    """Answers a request of a stand-in server with a JSON body."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@contextlib.contextmanager
def serving(handler_class):
    """A stand-in server on a free loopback port, for as long as the block runs: yields its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


PRINT_SLEEP_PRINT = "import time\nprint('first', flush=True)\ntime.sleep(1)\nprint('second')"


@contextlib.contextmanager
def cutting_proxy(target, event=b"stdout"):
    """A TCP proxy in front of the API that drops one connection, once, the way a flaky network does: the
    first response to carry `event: <event>` is passed on up to the middle of that line, then both sides
    are closed. Yields its URL and a dict that counts the cuts."""
    upstream = urllib.parse.urlsplit(target)
    listener = socket.create_server(("127.0.0.1", 0))
    state = {"cuts": 0}
    lock = threading.Lock()

    def pump(src, dst, watch):
        seen = b""
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                with lock:
                    at = (seen + chunk).find(b"event: " + event + b"\n") if watch and not state["cuts"] else -1
                    if at >= 0:
                        state["cuts"] += 1
                if at >= 0:
                    dst.sendall(chunk[: at + len(b"event: ") - len(seen)])
                    break
                seen += chunk if watch else b""
                dst.sendall(chunk)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        src.close()  # each socket is the source of one pump: both get closed

    def serve():
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection((upstream.hostname, upstream.port))
            threading.Thread(target=pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=pump, args=(server, client, True), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", state
    finally:
        listener.close()


class ClientTest(unittest.TestCase):
    def test_print_two_plus_two(self):
        result = run_code_safely("print(2 + 2)", base_url=URL)
        self.assertEqual(result["stdout"], "4\n")
        self.assertEqual(result["stderr"], "")
        self.assertEqual(result["exit_code"], 0)
        self.assertEqual(result["status"], "ok")

    def test_stdin_and_status_without_raising(self):
        result = run_code_safely("print(input()[::-1])", stdin="abc\n", base_url=URL)
        self.assertEqual(result["stdout"], "cba\n")
        failing = run_code_safely("raise SystemExit(3)", base_url=URL)
        self.assertEqual(failing["status"], "runtime_error")
        self.assertEqual(failing["exit_code"], 3)

    def test_a_lost_answer_is_retried_and_the_code_runs_once(self):
        answers = []

        class LoseFirstAnswer(http.server.BaseHTTPRequestHandler):
            """Forwards to the API, but hangs up instead of passing on the first answer: the job ran,
            the client never heard of it."""

            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                forwarded = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "idempotency-key")}
                upstream = urllib.request.Request(URL + self.path, data=body, method="POST", headers=forwarded)
                with urllib.request.urlopen(upstream) as res:
                    payload = res.read()
                answers.append(json.loads(payload))
                if len(answers) == 1:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                send_json(self, 200, payload)

            def log_message(self, *args):
                pass

        with serving(LoseFirstAnswer) as proxy:
            result = Client(proxy).run("import random\nprint(random.getrandbits(64))")
        self.assertEqual(len(answers), 2, "one lost answer, one retry")
        self.assertEqual(result["id"], answers[0]["id"], "the retry got the same job")
        self.assertEqual(result["stdout"], answers[0]["stdout"], "and the same run")

    def test_info_names_the_runtime_and_limits(self):
        info = Client(URL).info()
        self.assertEqual(info["runtime"]["language"], "python")
        self.assertGreater(info["limits"]["time_ms"]["max"], 0)

    def test_base64_output_is_the_exact_bytes(self):
        import base64

        result = Client(URL).run("import sys\nsys.stdout.buffer.write(b'\\x89PNG\\xff')", output_encoding="base64")
        self.assertEqual(base64.b64decode(result["stdout"]), b"\x89PNG\xff")

    def test_args_become_argv(self):
        result = run_code_safely("import sys\nprint(sys.argv[1:])", args=["a", "b c"], base_url=URL)
        self.assertEqual(result["stdout"], "['a', 'b c']\n")

    def test_a_server_that_is_down_is_a_clear_error(self):
        # Port 9 (discard) on loopback: nothing listens there, so the connection is refused at once.
        with self.assertRaises(ServerUnreachableError) as caught:
            Client("http://127.0.0.1:9").run("print(1)")
        self.assertEqual(caught.exception.url, "http://127.0.0.1:9")
        self.assertIn("refused", caught.exception.reason.lower())

    def test_raise_on_error(self):
        with self.assertRaises(TimeoutExceededError) as timeout:
            run_code_safely("while True: pass", time_ms=500, raise_on_error=True, base_url=URL)
        self.assertEqual(timeout.exception.result["status"], "timeout")
        with self.assertRaises(MemoryLimitError):
            run_code_safely("x = bytearray(300 * 2**20)", raise_on_error=True, base_url=URL)
        with self.assertRaises(SecurityViolation) as violation:
            run_code_safely("import os", raise_on_error=True, base_url=URL)
        self.assertIn("os", violation.exception.result["message"])

    def test_api_errors_carry_the_code(self):
        with self.assertRaises(ApiError) as err:
            run_code_safely("", base_url=URL)
        self.assertEqual(err.exception.status, 400)
        self.assertEqual(err.exception.code, "validation_failed")

    def test_submit_poll_wait_and_async(self):
        client = Client(URL)
        job_id = client.submit("print('queued')")
        self.assertIn(client.get(job_id)["state"], ("queued", "running", "completed"))
        self.assertEqual(client.wait(job_id)["stdout"], "queued\n")

        async def both():
            job = await client.async_submit("print('async')")
            return await asyncio.gather(client.async_wait(job), client.async_run("print('async run')"))

        waited, ran = asyncio.run(both())
        self.assertEqual(waited["stdout"], "async\n")
        self.assertEqual(ran["stdout"], "async run\n")

    def test_a_body_over_the_limit_is_a_413_not_unreachable(self):
        # Over the body limit of the default maxima (about 6.75 MB) and more than socket buffers hold:
        # urllib sends all of it before it reads, so only a server that reads it all gets its 413 across.
        with self.assertRaises(ApiError) as err:
            Client(URL).submit("print(1)", stdin="x" * 16_000_000)
        self.assertEqual((err.exception.status, err.exception.code), (413, "payload_too_large"))

    def test_known_limits_refuse_oversized_code_and_input_before_sending(self):
        posts = []
        limits = {"code_bytes": 10, "input_bytes": 20}

        class InfoOnly(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                send_json(self, 200, {"limits": limits})

            def do_POST(self):
                posts.append(self.path)
                self.send_response(500)
                self.end_headers()

            def log_message(self, *args):
                pass

        with serving(InfoOnly) as url:
            client = Client(url, max_input_bytes=1000)
            client.info()
            with self.assertRaises(ApiError) as code:
                client.run("print('é')")
            with self.assertRaises(ApiError) as stdin:
                client.submit("print(1)", stdin="x" * 15, args=["abc"], tests=[{"stdin": "", "expected_output": "xyz"}])
        self.assertEqual((code.exception.status, code.exception.code), (413, "code_too_large"))
        self.assertEqual(code.exception.message, "code is 11 bytes; the maximum is 10")
        self.assertEqual(stdin.exception.code, "stdin_too_large")
        self.assertIn("21 bytes together; the maximum is 20", stdin.exception.message)
        self.assertEqual(posts, [], "nothing was sent")

    def test_a_413_is_never_retried(self):
        posts = []

        class TooLarge(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["content-length"]))
                posts.append(self.path)
                send_json(self, 413, {"statusCode": 413, "code": "payload_too_large", "message": "too big"})

            def log_message(self, *args):
                pass

        with serving(TooLarge) as url, self.assertRaises(ApiError) as err:
            Client(url).run("print(1)", retries=3)
        self.assertEqual(err.exception.code, "payload_too_large")
        self.assertEqual(posts, ["/run"], "asked once")

    def test_enqueue_says_where_the_job_stands(self):
        client = Client(URL)
        accepted = client.enqueue("print('placed')", lane="interactive")
        self.assertEqual(accepted["lane"], "interactive")
        self.assertIn("position", accepted)
        self.assertIn("eta_seconds", accepted)
        self.assertEqual(client.wait(accepted["id"])["stdout"], "placed\n")
        self.assertEqual(client.enqueue("print(1)")["lane"], "batch", "POST /jobs is batch unless asked")
        with self.assertRaises(ApiError) as err:
            client.submit("print(1)", lane="express")
        self.assertEqual(err.exception.code, "validation_failed")

    def test_a_full_queue_says_when_to_retry_and_is_not_retried(self):
        posts = []

        class Full(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["content-length"]))
                posts.append(self.path)
                body = json.dumps({"statusCode": 503, "code": "queue_full", "message": "full"}).encode()
                self.send_response(503)
                self.send_header("content-type", "application/json")
                self.send_header("retry-after", "7")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        with serving(Full) as url, self.assertRaises(ApiError) as err:
            Client(url).submit("print(1)", retries=3)
        self.assertEqual((err.exception.status, err.exception.code, err.exception.retry_after), (503, "queue_full", 7))
        self.assertEqual(posts, ["/jobs"], "asked once: the caller decides when, from retry_after")

    def test_stream_shows_each_line_as_it_is_written(self):
        stream = Client(URL).stream(code=PRINT_SLEEP_PRINT)
        arrived = [(event, time.monotonic()) for event in stream]
        first = next(at for event, at in arrived if event.type == "stdout")
        done = arrived[-1][1]
        self.assertEqual(arrived[-1][0].type, "result")
        self.assertGreater(done - first, 0.5, "the first line came about a second before the end")
        self.assertEqual(stream.result["stdout"], "first\nsecond\n")
        self.assertEqual("".join(e.data["text"] for e, _ in arrived if e.type == "stdout"), "first\nsecond\n")
        self.assertEqual(Client(URL).wait(stream.job_id)["stdout"], "first\nsecond\n")

    def test_a_cut_stream_is_resumed_with_no_gap_or_repeat(self):
        with cutting_proxy(URL) as (proxy, state):
            events = list(Client(proxy).stream(code=PRINT_SLEEP_PRINT))
        self.assertEqual(state["cuts"], 1)
        ids = [e.id for e in events if e.id]
        self.assertEqual(len(ids), len(set(ids)), "no event twice")
        self.assertEqual("".join(e.data["text"] for e in events if e.type == "stdout"), "first\nsecond\n")
        self.assertEqual(events[-1].type, "result")

    def test_run_code_safely_passes_output_on_as_it_comes_and_returns_the_same_result(self):
        pieces = []
        result = run_code_safely(PRINT_SLEEP_PRINT + "\nimport sys\nprint('oops', file=sys.stderr)",
                                 base_url=URL, on_output=lambda *piece: pieces.append((*piece, time.monotonic())))
        self.assertEqual((result["status"], result["stdout"], result["stderr"]), ("ok", "first\nsecond\n", "oops\n"))
        self.assertEqual("".join(t for s, t, _ in pieces if s == "stdout"), "first\nsecond\n")
        self.assertEqual("".join(t for s, t, _ in pieces if s == "stderr"), "oops\n")
        self.assertGreater(pieces[-1][2] - pieces[0][2], 0.5, "the first piece came before the program ended")
        with self.assertRaises(TimeoutExceededError):
            run_code_safely("while True: pass", time_ms=300, raise_on_error=True, base_url=URL, on_output=print)

    def test_interactive_input_answers_a_prompt(self):
        client = Client(URL)
        if "interactive" not in client.info()["limits"]:
            self.skipTest("this server has no interactive input")
        # The program reads to end of file, so it is still running when the input is closed.
        code = "import sys\nname = input('name? ')\nprint('hi', name)\nprint(sys.stdin.read(), end='')"
        stream = client.stream(code=code, interactive=True)
        for event in stream:
            if event.type == "stdout" and "name?" in event.data["text"]:
                self.assertEqual(client.send_input(stream.job_id, "ada\n"), {"offset": 4, "eof": False})
                self.assertEqual(client.send_input(stream.job_id, "ok\n")["offset"], 7)
                self.assertEqual(client.close_input(stream.job_id), {"offset": 7, "eof": True})
        self.assertEqual(stream.result["stdout"], "name? hi ada\nok\n")

    def test_module_has_no_third_party_imports(self):
        source = open(sbx_client.__file__).read()
        for line in source.splitlines():
            if line.startswith(("import ", "from ")) and "typing" not in line:
                module = line.split()[1].split(".")[0]
                self.assertIn(module, {"asyncio", "http", "json", "os", "time", "urllib"}, line)


if __name__ == "__main__":
    unittest.main()
