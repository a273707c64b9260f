"""sbx_wire: frames and the strict JSON codec every harness module uses (no Docker).

    /usr/bin/python3 -m unittest discover -s test/harness -p 'test_*.py'
"""

import os
import random
import threading
import unittest

import harness_path  # noqa: F401  (puts the harness on sys.path)
import sbx_wire as wire

FRAMES = [
    (wire.STDOUT, b"hello "),
    (wire.STDERR, b"\x00\xff\n\x1e"),
    (wire.STDOUT, b""),
    (wire.REPORT, b'{"v":2,"exit_code":0}'),
    (wire.ARTIFACT, b'{"name":"a.bin","mime":"a/b","bytes":256}\n' + bytes(range(256))),
    (wire.DONE, b'{"exit_code":0}'),
]


class FrameTests(unittest.TestCase):
    def test_a_frame_is_kind_length_payload(self):
        self.assertEqual(wire.frame(wire.STDOUT, b"abc"), bytes([wire.STDOUT, 0, 0, 0, 3]) + b"abc")
        self.assertEqual(wire.frame(wire.DONE, b""), bytes([wire.DONE, 0, 0, 0, 0]))
        big = wire.frame(wire.STDERR, b"x" * 70000)
        self.assertEqual(big[1:5], (70000).to_bytes(4, "big"))
        self.assertEqual(len(big), wire.HEADER_BYTES + 70000)

    def test_round_trip_split_at_every_byte(self):
        stream = b"".join(wire.frame(kind, payload) for kind, payload in FRAMES)
        for cut in range(len(stream) + 1):
            reader = wire.FrameReader()
            got = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
            self.assertEqual(got, FRAMES, "cut at %d" % cut)
            self.assertEqual(bytes(reader.buffer), b"")
        reader = wire.FrameReader()
        got = []
        for i in range(len(stream)):
            got += reader.feed(stream[i : i + 1])
        self.assertEqual(got, FRAMES)

    def test_round_trip_random_slices_of_large_frames(self):
        rng = random.Random(7)
        frames = [(rng.choice((wire.STDOUT, wire.STDERR)), rng.randbytes(rng.randrange(0, 90000))) for _ in range(12)]
        stream = b"".join(wire.frame(kind, payload) for kind, payload in frames)
        for _ in range(20):
            reader = wire.FrameReader()
            got, at = [], 0
            while at < len(stream):
                step = rng.choice((1, 2, 5, 6, 100, 4096, 70000))
                got += reader.feed(stream[at : at + step])
                at += step
            self.assertEqual(got, frames)

    def test_a_frame_past_the_bound_is_refused_from_its_header(self):
        reader = wire.FrameReader(max_payload=10)
        self.assertEqual(reader.feed(wire.frame(wire.STDOUT, b"x" * 10)), [(wire.STDOUT, b"x" * 10)])
        with self.assertRaises(ValueError):
            reader.feed(bytes([wire.STDOUT]) + (11).to_bytes(4, "big"))

    def test_send_writes_whole_frames_past_a_pipe_buffer(self):
        read_fd, write_fd = os.pipe()
        received = bytearray()

        def drain():
            while True:
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    return
                received.extend(chunk)

        reader_thread = threading.Thread(target=drain)
        reader_thread.start()
        payload = bytes(range(256)) * 1000  # 256 kB: several pipe buffers
        try:
            wire.send(write_fd, wire.STDOUT, payload)
            wire.send_json(write_fd, wire.DONE, {"exit_code": 3})
        finally:
            os.close(write_fd)
            reader_thread.join(10)
            os.close(read_fd)
        self.assertEqual(
            wire.FrameReader().feed(bytes(received)), [(wire.STDOUT, payload), (wire.DONE, b'{"exit_code":3}')]
        )

    def test_the_spec_is_consistent(self):
        kinds = [wire.STDOUT, wire.STDERR, wire.REPORT, wire.ARTIFACT, wire.DONE]
        self.assertEqual(len(set(kinds)), 5)
        self.assertTrue(all(0 < k < 256 for k in kinds))
        self.assertTrue(wire.READY.endswith(b"\n"))
        self.assertEqual(wire.HEADER_BYTES, 5)
        self.assertLess(wire.MAX_CHUNK, 1 << 32)


class JsonTests(unittest.TestCase):
    def test_strict_one_value(self):
        refused = [
            '{"a":1} x',
            "1 2",
            "[1]]",
            "NaN",
            "[Infinity]",
            "-Infinity",
            '{"size": NaN}',
            '"a\nb"',  # a raw control character inside a string
            "",
            "   ",
            "{",
            "{'a': 1}",
            "[1,]",
            "01",
            b"\xff",
            b'"\xc3"',
        ]
        for text in refused:
            with self.subTest(text=text), self.assertRaises(ValueError):
                wire.json_loads(text)

    def test_accepted(self):
        self.assertEqual(wire.json_loads(' {"a": [1, 2.5, null, true]} \r\n'), {"a": [1, 2.5, None, True]})
        self.assertEqual(wire.json_loads(b'"\\u00fc\\ud83d\\ude00"'), "\u00fc\U0001f600")
        self.assertEqual(wire.json_loads('"\\ud800"'), "\ud800")
        self.assertEqual(wire.json_loads(bytearray(b"12")), 12)

    def test_dumps_is_compact_ascii_and_refuses_what_is_not_json(self):
        self.assertEqual(
            wire.json_dumps({"a": [1, None], "b": "\u00fc\U0001f600\n"}), '{"a":[1,null],"b":"\\u00fc\\ud83d\\ude00\\n"}'
        )
        self.assertTrue(wire.json_dumps({"s": "".join(map(chr, range(0, 0x3000, 7)))}).isascii())
        for value in (float("nan"), float("inf"), [float("-inf")]):
            with self.subTest(value=value), self.assertRaises(ValueError):
                wire.json_dumps(value)
        with self.assertRaises(TypeError):
            wire.json_dumps({"b": b"bytes"})

    def test_round_trip(self):
        value = {"name": "a/\u00fc\U0001f600.txt", "n": [0, -1, 2**53, 1.5], "nested": {"x": None}, "lone": "\udc80"}
        self.assertEqual(wire.json_loads(wire.json_dumps(value)), value)


if __name__ == "__main__":
    unittest.main()
