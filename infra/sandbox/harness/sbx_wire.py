"""The worker-harness wire protocol (wire.json) and the JSON codec every harness module uses.

Frames go out on the supervisor's own stdout, which no process of the program ever holds: a frame
is its kind (1 byte), its payload's length (4 bytes, big-endian) and the payload.
"""

import _json
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


class _JsonContext:
    """What the C scanner reads from json.JSONDecoder. The json package itself imports re, which
    costs 40-60 ms of every sandbox's start-up under gVisor; the C parts it wraps cost nothing."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name):
        raise ValueError("not JSON: %s" % name)


def _unserializable(value):
    raise TypeError("not JSON serializable: %r" % type(value))


_scan_json = _json.make_scanner(_JsonContext())
_encode_json = _json.make_encoder(
    None, _unserializable, _json.encode_basestring_ascii, None, ":", ",", False, False, False
)


def json_loads(text):
    """Strict JSON, one value, surrounding whitespace allowed."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    text = text.strip(" \t\r\n")
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:
        raise ValueError("not JSON") from None
    except SystemError:
        # The C scanner builds its error from json.decoder, found only if already imported (it never
        # is here): malformed input surfaces as a bare SystemError instead.
        raise ValueError("malformed JSON") from None
    if end != len(text):
        raise ValueError("trailing data after JSON")
    return value


def json_dumps(value):
    """Compact, ASCII-only JSON."""
    return "".join(_encode_json(value, 0))


def _load_spec():
    with open(os.path.join(_HERE, "wire.json"), "rb") as spec:
        return json_loads(spec.read())


SPEC = _load_spec()
VERSION = SPEC["version"]
READY = SPEC["ready"].encode()
HEADER_BYTES = SPEC["frame"]["header_bytes"]
MAX_CHUNK = SPEC["frame"]["max_chunk_bytes"]
MAX_REPORT = SPEC["frame"]["max_report_bytes"]
ARTIFACT_HEADER_MAX = SPEC["frame"]["artifact_header_max_bytes"]
KIND = SPEC["kinds"]
STDOUT, STDERR, REPORT, ARTIFACT, DONE = (KIND[k] for k in ("stdout", "stderr", "report", "artifact", "done"))
MAX_INPUT_LINE = SPEC["input"]["max_line_bytes"]
STOP = SPEC["input"]["stop"].encode()
INTERACTIVE = SPEC["input"]["interactive"]
EXIT = SPEC["exit_codes"]
PROGRAM = SPEC["program"]
ARTIFACTS = SPEC["artifacts"]


def frame(kind, payload):
    """One frame's bytes. Payloads past 4 GiB cannot be framed (nothing the caps allow is that big)."""
    return bytes((kind,)) + len(payload).to_bytes(4, "big") + payload


def write_fully(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def send(fd, kind, payload):
    # One write per frame where the pipe takes it: a frame is never interleaved with another.
    write_fully(fd, frame(kind, payload))


def send_json(fd, kind, value):
    send(fd, kind, json_dumps(value).encode())


class FrameReader:
    """Frames out of a byte stream, fed in any slices (the harness tests use it; the worker has its
    own in TypeScript, apps/worker/src/sandbox/harness-stream.ts). Yields (kind, payload)."""

    def __init__(self, max_payload=1 << 31):
        self.buffer = bytearray()
        self.max_payload = max_payload

    def feed(self, data):
        self.buffer += data
        frames = []
        while len(self.buffer) >= HEADER_BYTES:
            size = int.from_bytes(self.buffer[1:HEADER_BYTES], "big")
            if size > self.max_payload:
                raise ValueError("frame of %d bytes is past the bound" % size)
            if len(self.buffer) < HEADER_BYTES + size:
                break
            frames.append((self.buffer[0], bytes(self.buffer[HEADER_BYTES : HEADER_BYTES + size])))
            del self.buffer[: HEADER_BYTES + size]
        return frames


class LineReader:
    """Lines off a descriptor (the supervisor's stdin), read raw: nothing past a line is ever held
    where poll cannot see it except in `buffer`, which pending() hands over. A BufferedReader would
    read ahead past the job line into a buffer of its own, and an interactive run's first input,
    sent right after it, would wait there unseen."""

    def __init__(self, fd, max_line=MAX_INPUT_LINE):
        self.fd = fd
        self.max_line = max_line
        self.buffer = bytearray()
        self.eof = False

    def readline(self):
        """The next line with its newline, blocking; at the end, what is left (no newline, maybe b"").
        Raises ValueError for a line past max_line."""
        searched = 0
        while True:
            end = self.buffer.find(b"\n", searched)
            if end >= 0:
                return self._take(end + 1)
            if len(self.buffer) > self.max_line:
                raise ValueError("a line past %d bytes" % self.max_line)
            if self.eof:
                return self._take(len(self.buffer))
            searched = len(self.buffer)
            self.fill()

    def fill(self):
        """One read (poll said the descriptor is readable, or the caller may block). False at the end."""
        try:
            chunk = os.read(self.fd, 1 << 20)
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
        self.buffer += chunk
        return bool(chunk)

    def pending(self):
        """The whole lines already read, without reading; an overlong one raises ValueError."""
        lines = []
        while True:
            end = self.buffer.find(b"\n")
            if end < 0:
                if len(self.buffer) > self.max_line:
                    raise ValueError("a line past %d bytes" % self.max_line)
                return lines
            lines.append(self._take(end + 1))

    def _take(self, size):
        line = bytes(self.buffer[:size])
        del self.buffer[:size]
        return line
