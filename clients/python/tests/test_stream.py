"""The client's live events and interactive input against stand-in servers: no sbx API needed.

    /usr/bin/python3 -m unittest discover -s clients/python/tests -p 'test_stream.py'
"""

import contextlib
import http.server
import json
import os
import sys
import threading
import unittest
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import sbx_client  # noqa: E402
from sbx_client import ApiError, Client, Event, ServerUnreachableError, SseParser, run_code_safely  # noqa: E402

VIEW = {"id": "j1", "state": "completed", "result": {"id": "j1", "status": "ok", "stdout": "a\nb\n", "stderr": ""}}
# A job's events as the API sends them: the queued place has no id.
EVENTS = [
    (None, "status", {"state": "queued", "position": 0, "eta_seconds": None}),
    ("1-0", "status", {"state": "running", "attempt": 1}),
    ("1-1", "stdout", {"text": "a\n"}),
    ("1-2", "stderr", {"text": "é\n"}),
    ("1-3", "stdout", {"text": "b\n"}),
    ("1-4", "result", VIEW),
]


def frame(event_id, kind, data, retry=None):
    lines = ([f"retry: {retry}"] if retry else []) + ([f"id: {event_id}"] if event_id else [])
    return ("\n".join(lines + [f"event: {kind}", "data: " + json.dumps(data)]) + "\n\n").encode()


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


class Scripted(http.server.BaseHTTPRequestHandler):
    """Serves EVENTS after the request's Last-Event-ID, chunked, and follows `plan`: per connection,
    how many events to send before it cuts (None: all), and whether it cuts inside the next event's bytes
    (a broken chunk) or just ends the response."""

    protocol_version = "HTTP/1.1"
    plan = []
    seen = []
    retry = 10

    def do_GET(self):
        type(self).seen.append((self.command, self.path, self.headers.get("last-event-id")))
        step = type(self).plan.pop(0) if type(self).plan else (None, False)
        self.stream(self.after(self.headers.get("last-event-id")), *step)

    def after(self, last_id):
        ids = [e[0] for e in EVENTS]
        return EVENTS[ids.index(last_id) + 1:] if last_id is not None and last_id in ids else EVENTS

    def stream(self, events, count, inside, extra_headers=()):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        for i, (event_id, kind, data) in enumerate(events):
            body = frame(event_id, kind, data, type(self).retry if i == 0 else None)
            if count is not None and i == count:
                if inside:  # half an event, in a chunk that promises more than it has
                    half = body[: len(body) // 2]
                    self.wfile.write(b"%x\r\n" % len(body) + half)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(body), body))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args):
        pass


def scripted(plan, retry=10):
    """A Scripted handler class of its own: its plan and what it saw."""
    return type("Plan", (Scripted,), {"plan": list(plan), "seen": [], "retry": retry})


class ParserTest(unittest.TestCase):
    def test_events_fields_comments_and_retry(self):
        parser = SseParser()
        events = parser.feed(b": heartbeat\n\nretry: 250\nid: 1-0\nevent: stdout\ndata: {\"text\":\ndata:  \"x\"}\n\n")
        self.assertEqual(events, [Event("stdout", {"text": "x"}, "1-0")])
        self.assertEqual((parser.retry_ms, parser.last_id), (250, "1-0"))

    def test_any_line_ending_even_split_between_reads(self):
        parser = SseParser()
        stream = b"\xef\xbb\xbfid: 1-0\r\nevent: stdout\rdata: {\"text\": \"\xc3\xa9\"}\r\n\r\nevent: run\ndata: {}\n\n"
        events = [e for i in range(len(stream)) for e in parser.feed(stream[i:i + 1])]
        self.assertEqual(events, [Event("stdout", {"text": "é"}, "1-0"), Event("run", {}, None)])
        self.assertEqual(parser.last_id, "1-0", "an event without an id keeps the last one")

    def test_an_unfinished_block_unknown_types_and_bad_data_are_never_events(self):
        parser = SseParser()
        self.assertEqual(parser.feed(b"event: newer\ndata: {}\n\nevent: stdout\ndata: nope\n\n"), [])
        self.assertEqual(parser.feed(b"id: 2-0\nevent: stdout\ndata: {\"text\": \"cut\"}\n"), [])
        self.assertIsNone(parser.last_id, "a block cut off before its blank line does not count")


class StreamTest(unittest.TestCase):
    def setUp(self):
        self.delays = []
        patcher = mock.patch.object(sbx_client.time, "sleep", self.delays.append)
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_a_cut_stream_resumes_after_the_last_event_with_no_gap_or_repeat(self):
        handler = scripted([(3, True), (1, False)], retry=20)
        with serving(handler) as url:
            stream = Client(url).stream("j1")
            events = list(stream)
        self.assertEqual(events, [Event(kind, data, event_id) for event_id, kind, data in EVENTS])
        self.assertEqual([h[2] for h in handler.seen], [None, "1-1", "1-2"], "resumed with Last-Event-ID")
        self.assertEqual(self.delays, [0.02, 0.02], "the server's retry: before each reconnection")
        self.assertEqual((stream.result, stream.last_event_id, stream.job_id), (VIEW["result"], "1-4", "j1"))

    def test_reconnections_are_bounded_and_back_off(self):
        handler = scripted([(1, False)] * 10, retry=100)
        with serving(handler) as url, self.assertRaises(ServerUnreachableError) as err:
            list(Client(url).stream("j1", retries=3))
        self.assertIn("ended early", err.exception.reason)
        self.assertEqual(len(handler.seen), 4)
        self.assertEqual(self.delays, [0.1, 0.2, 0.4])

    def test_resuming_from_a_given_id_and_a_204_for_a_viewer_that_has_everything(self):
        handler = scripted([])
        with serving(handler) as url:
            self.assertEqual([e.id for e in Client(url).stream("j1", last_event_id="1-2")], ["1-3", "1-4"])

        class Done(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        with serving(Done) as url:
            stream = Client(url).stream("j1", last_event_id="1-4")
            self.assertEqual(list(stream), [])
        self.assertIsNone(stream.result)

    def test_refusals_are_raised_at_once_and_a_busy_api_is_asked_again_after_retry_after(self):
        answers = [(503, "queue_unavailable", "2"), (404, "not_found", None)]

        class Refusing(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status, code, after = answers.pop(0)
                body = json.dumps({"statusCode": status, "code": code, "message": code}).encode()
                self.send_response(status)
                if after:
                    self.send_header("retry-after", after)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        with serving(Refusing) as url, self.assertRaises(ApiError) as err:
            list(Client(url).stream("j1"))
        self.assertEqual((err.exception.status, err.exception.code), (404, "not_found"))
        self.assertEqual(self.delays, [2], "Retry-After outweighs the 1 s default")

    def test_a_silent_connection_counts_as_dropped(self):
        class Silent(Scripted):
            calls = []

            def do_GET(self):
                Silent.calls.append(1)
                if len(Silent.calls) == 1:
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    self.wfile.flush()
                    self.rfile.read(1)  # the head, then nothing until the client leaves
                    return
                self.stream(EVENTS, None, False)

        with serving(Silent) as url:
            events = list(Client(url).stream("j1", idle_timeout=0.2))
        self.assertEqual(events[-1].type, "result")
        self.assertEqual(len(Silent.calls), 2)

    def test_a_new_submission_streams_in_one_round_trip_and_resumes_by_its_job_id(self):
        posts = []

        class Run(Scripted):
            plan = []
            seen = []

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                posts.append((body, self.headers.get("accept"), self.headers.get("idempotency-key")))
                if len(posts) == 1:  # the connection fails before any answer: asked again, same key
                    self.close_connection = True
                    return
                self.stream(EVENTS, 3, True, [("location", "/jobs/j1")])

        with serving(Run) as url:
            stream = Client(url).stream(code="print(1)", stdin="x", time_ms=500, interactive=True)
            events = list(stream)
        self.assertEqual([e.id for e in events], [e[0] for e in EVENTS])
        self.assertEqual(posts[0][0], {"code": "print(1)", "stdin": "x", "limits": {"time_ms": 500},
                                       "interactive": True})
        self.assertEqual(posts[0][1], "text/event-stream")
        self.assertEqual(len(posts), 2)
        self.assertEqual(posts[0][2], posts[1][2], "one Idempotency-Key: the code runs once")
        self.assertEqual(Run.seen, [("GET", "/jobs/j1/events", "1-1")])
        self.assertEqual(stream.job_id, "j1")

    def test_stream_takes_a_job_id_or_code(self):
        with self.assertRaises(ValueError):
            Client("http://127.0.0.1:9").stream()
        with self.assertRaises(ValueError):
            Client("http://127.0.0.1:9").stream("j1", code="print(1)")


class OnOutputTest(unittest.TestCase):
    def test_each_piece_of_output_is_passed_on_and_the_result_is_returned_as_before(self):
        events = [EVENTS[2], ("1-5", "run", {"attempt": 2}), EVENTS[3], EVENTS[4], EVENTS[5]]

        class Run(Scripted):
            def do_POST(self):
                self.rfile.read(int(self.headers["content-length"]))
                self.stream(events, None, False, [("location", "/jobs/j1")])

        pieces = []
        with serving(Run) as url:
            result = run_code_safely("print(1)", base_url=url, on_output=lambda *piece: pieces.append(piece))
        self.assertEqual(pieces, [("stdout", "a\n"), ("run", ""), ("stderr", "é\n"), ("stdout", "b\n")])
        self.assertEqual(result, VIEW["result"])


class InputTest(unittest.TestCase):
    def setUp(self):
        patcher = mock.patch.object(sbx_client.time, "sleep", lambda s: None)
        patcher.start()
        self.addCleanup(patcher.stop)

    def stdin_server(self, lose):
        """A stand-in for POST /jobs/:id/stdin by the contract; it hangs up instead of answering the calls
        numbered in `lose` (after accepting them)."""
        state = {"input": b"", "eof": False, "calls": []}

        class Stdin(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                state["calls"].append(body)
                status, answer = self.accept(body)
                if len(state["calls"]) in lose:
                    self.close_connection = True
                    return
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def accept(self, body):
                have = len(state["input"])
                if state["eof"]:
                    return 409, {"statusCode": 409, "code": "stdin_closed", "message": "closed"}
                if body["offset"] > have:
                    return 409, {"statusCode": 409, "code": "stdin_gap", "message": "gap"}
                data = body.get("data", "").encode()
                state["input"] += data[have - body["offset"]:]
                state["eof"] = bool(body.get("eof"))
                return 200, {"offset": len(state["input"]), "eof": state["eof"]}

            def log_message(self, *args):
                pass

        return state, Stdin

    def test_input_keeps_its_offset_a_retry_appends_nothing_twice_and_eof_closes(self):
        state, handler = self.stdin_server(lose={1, 5})
        with serving(handler) as url:
            client = Client(url)
            self.assertEqual(client.send_input("j1", "héllo\n"), {"offset": 7, "eof": False})
            client.max_input_call_bytes = 4
            self.assertEqual(client.send_input("j1", "wörld\n"), {"offset": 14, "eof": False})
            self.assertEqual(client.close_input("j1"), {"offset": 14, "eof": True})
        self.assertEqual(state["input"].decode(), "héllo\nwörld\n")
        self.assertEqual([c["offset"] for c in state["calls"]], [0, 0, 7, 11, 14, 14])
        self.assertEqual([c.get("data") for c in state["calls"][2:4]], ["wör", "ld\n"])

    def test_a_gap_is_an_error(self):
        state, handler = self.stdin_server(lose=set())
        with serving(handler) as url, self.assertRaises(ApiError) as err:
            Client(url).send_input("j1", "x", offset=5)
        self.assertEqual((err.exception.status, err.exception.code), (409, "stdin_gap"))
        self.assertEqual(len(state["calls"]), 1)


if __name__ == "__main__":
    unittest.main()
