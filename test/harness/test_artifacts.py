"""sbx_artifacts: the child->supervisor figure frames (ArtifactSink.feed, parsed defensively: the
program holds that pipe too), the files under the outputs folder, and the artifact frames sent to the
worker (no Docker).

    /usr/bin/python3 -m unittest discover -s test/harness -p 'test_*.py'
"""

import os
import random
import tempfile
import time
import unittest

import harness_path  # noqa: F401  (puts the harness on sys.path)
import sbx_artifacts as artifacts
import sbx_wire as wire
from sbx_artifacts import ArtifactSink, clean_name, shown_name

MAX_DROPPED_NAMES = wire.ARTIFACTS["max_dropped_names"]
HEADER_MAX = ArtifactSink.HEADER_MAX


def sink(max_count=10, max_bytes=1 << 20):
    return ArtifactSink({"format": "png", "max_count": max_count, "max_bytes": max_bytes})


def header(name, mime, size, **extra):
    return wire.json_dumps({"name": name, "mime": mime, "size": size, **extra}).encode() + b"\n"


def figure(name, data, mime="image/png"):
    return header(name, mime, len(data)) + data


def dropped(name):
    return wire.json_dumps({"dropped": name}).encode() + b"\n"


def state(s):
    return (list(s.kept), s.dropped, list(s.dropped_names), s.skipped, list(s.skipped_names))


class FeedTests(unittest.TestCase):
    def test_frames_are_kept_with_their_bytes_split_anywhere(self):
        png = bytes(range(256)) + b"\n{\"size\": 3}\n"
        stream = figure("figure-1.png", png) + figure("figure-2.svg", b"<svg/>", "image/svg+xml") + figure("e.png", b"")
        expected = [
            ("figure-1.png", "image/png", png),
            ("figure-2.svg", "image/svg+xml", b"<svg/>"),
            ("e.png", "image/png", b""),
        ]
        for cut in range(len(stream) + 1):
            s = sink()
            s.feed(stream[:cut])
            s.feed(stream[cut:])
            s.finish()
            self.assertEqual(s.kept, expected, "cut at %d" % cut)
            self.assertEqual((s.dropped, s.skipped), (0, 0))

    def test_caps_in_order_then_everything_after_a_drop_is_dropped(self):
        forty = b"x" * 40
        stream = figure("a.png", forty) + figure("b.png", forty) + figure("c.png", forty) + figure("d.png", b"x")
        by_count = sink(max_count=2)
        by_count.feed(stream)
        self.assertEqual([k[0] for k in by_count.kept], ["a.png", "b.png"])
        self.assertEqual((by_count.dropped, by_count.dropped_names), (2, ["c.png", "d.png"]))
        by_bytes = sink(max_bytes=100)
        by_bytes.feed(stream)
        # d.png would fit, but comes after a drop: kept in order means a prefix.
        self.assertEqual([k[0] for k in by_bytes.kept], ["a.png", "b.png"])
        self.assertEqual(by_bytes.dropped_names, ["c.png", "d.png"])
        exactly = sink(max_count=2, max_bytes=80)
        exactly.feed(stream[: 2 * len(figure("a.png", b"x" * 40))])
        self.assertEqual(len(exactly.kept), 2)
        self.assertEqual(exactly.dropped, 0)

    def test_a_dropped_notice_counts_and_ends_the_keeping(self):
        s = sink()
        s.feed(figure("a.png", b"1") + dropped("figure-2.png") + figure("c.png", b"3"))
        self.assertEqual([k[0] for k in s.kept], ["a.png"])
        self.assertEqual((s.dropped, s.dropped_names), (2, ["figure-2.png", "c.png"]))
        # Names past MAX_DROPPED_NAMES are counted, not listed; unprintable ones shown with '?'.
        many = sink()
        many.feed(b"".join(dropped("f\n%d" % i) for i in range(MAX_DROPPED_NAMES + 5)))
        self.assertEqual(many.dropped, MAX_DROPPED_NAMES + 5)
        self.assertEqual(len(many.dropped_names), MAX_DROPPED_NAMES)
        self.assertEqual(many.dropped_names[0], "f?0")

    def test_a_bad_name_bad_mime_or_repeated_name_skips_its_content_only(self):
        s = sink()
        s.feed(
            figure("../x.png", b"content with \n{} lines\n")
            + figure("a.png", b"A")
            + figure("a.png", b"again")
            + figure("b.png", b"B", mime="text/html; x")
            + figure("c.png", b"C")
        )
        self.assertEqual([(k[0], k[2]) for k in s.kept], [("a.png", b"A"), ("c.png", b"C")])
        self.assertEqual((s.dropped, s.skipped), (0, 0))

    def test_garbage_lines_and_over_long_lines_are_skipped(self):
        s = sink()
        s.feed(b"garbage\n[1,2]\n{}\nNaN\n" + b"z" * (HEADER_MAX + 10))
        s.feed(header("hidden.png", "image/png", 1) + b"\n")  # the end of an over-long line: not a header
        s.feed(figure("ok.png", b"!"))
        self.assertEqual([(k[0], k[2]) for k in s.kept], [("ok.png", b"!")])

    def test_a_frame_cut_short_is_discarded(self):
        s = sink()
        s.feed(figure("a.png", b"A") + header("b.png", "image/png", 100) + b"only part")
        s.finish()
        self.assertEqual([k[0] for k in s.kept], ["a.png"])


# --- The fuzz test: a model of what the sink must keep, and streams that mix valid frames with
# everything user code could write on the same pipe.

VALID_NAMES = ["f%d.png" % i for i in range(6)] + ["dir/x.csv", "\u00fc/\U0001f600.svg", "x" * 200, ".hidden"]
BAD_NAMES = ["../x", "/abs", "a\nb", "", "x" * 201, "a\\b", "a//b", "./a", "a/", 5, None, "a\u2028b", "\ud800"]
VALID_MIMES = ["image/png", "image/svg+xml", "text/plain", "a/b", "application/vnd.x-y+z"]
BAD_MIMES = ["text/html; x", "", "ab", "a" * 101, "a/b/c", "\u00fc/x", 5, None, "a b/c"]
INERT_LINES = [
    b"[1,2]",
    b'"str"',
    b"{}",
    b"",
    b"   ",
    b"null",
    b'{"size": -1, "name": "a.png", "mime": "a/b"}',
    b'{"size": true, "name": "a.png", "mime": "a/b"}',
    b'{"size": 1.5, "name": "a.png", "mime": "a/b"}',
    b'{"size": "3", "name": "a.png", "mime": "a/b"}',
    b'{"size": 1099511627777, "name": "a.png", "mime": "a/b"}',  # past 1 << 40: no header
    b'{"size": NaN, "name": "a.png", "mime": "a/b"}',
    b'{"size": 3, "name": "a.png", "mime": "a/b"} trailing',
    b'{"dropped": 5}',
    b'{"dropped": "x", "and": 1}',
    b"[" * 3000,
]


class Model:
    """What ArtifactSink documents, written plainly: kept in order within the caps, a drop (a cap
    reached or a dropped notice) ends the keeping, a repeated or unusable name skips only its frame."""

    def __init__(self, max_count, max_bytes):
        self.max_count, self.max_bytes = max_count, max_bytes
        self.kept, self.names, self.kept_bytes = [], set(), 0
        self.dropped, self.dropped_names, self.full = 0, [], False

    def drop(self, name):
        self.full = True
        self.dropped += 1
        if len(self.dropped_names) < MAX_DROPPED_NAMES:
            self.dropped_names.append(shown_name(name))

    def frame(self, name, mime, size, data):
        """data None: cut short at the end of the stream."""
        if name in self.names:
            return
        if self.full or len(self.kept) >= self.max_count or self.kept_bytes + size > self.max_bytes:
            self.drop(name)
            return
        if data is not None:
            self.kept.append((name, mime, data))
            self.names.add(name)
            self.kept_bytes += size


def generate(rng, depth=0):
    """A stream of items: (bytes, effect on the model). Some items swallow the next ones."""
    items = []
    for _ in range(rng.randrange(1, 10)):
        roll = rng.random()
        if roll < 0.35:
            name, mime = rng.choice(VALID_NAMES), rng.choice(VALID_MIMES)
            data = rng.randbytes(rng.randrange(0, 120))
            items.append((figure(name, data, mime), ("frame", name, mime, len(data), data)))
        elif roll < 0.45:
            name = rng.choice(VALID_NAMES + ["f\n", "\u00fc" * 10])
            items.append((dropped(name), ("drop", name)))
        elif roll < 0.55:
            name, mime = rng.choice(BAD_NAMES), rng.choice(VALID_MIMES)
            data = rng.randbytes(rng.randrange(0, 60))
            items.append((header(name, mime, len(data)) + data, None))
        elif roll < 0.62:
            name, mime = rng.choice(VALID_NAMES), rng.choice(BAD_MIMES)
            data = rng.randbytes(rng.randrange(0, 60))
            items.append((header(name, mime, len(data)) + data, None))
        elif roll < 0.72:
            junk = bytes(b for b in rng.randbytes(rng.randrange(0, 200)) if b != 0x0A)
            items.append((b"#" + junk + b"\n", None))
        elif roll < 0.80:
            items.append((rng.choice(INERT_LINES) + b"\n", None))
        elif roll < 0.86:
            # An over-long line hides even a good header at its end.
            long_line = b"y" * (HEADER_MAX + rng.randrange(1, 3000)) + header("f0.png", "a/b", 0)
            items.append((long_line, None))
        elif roll < 0.93 and depth < 2:
            # A frame that lies about its size: it claims the bytes of the items after it.
            swallowed = generate(rng, depth + 1)
            name, mime = rng.choice(VALID_NAMES), rng.choice(VALID_MIMES)
            data = rng.randbytes(rng.randrange(0, 30)) + b"".join(b for b, _ in swallowed)
            items.append((header(name, mime, len(data)) + data, ("frame", name, mime, len(data), data)))
        else:
            # Extra fields in a header are ignored.
            name, mime = rng.choice(VALID_NAMES), rng.choice(VALID_MIMES)
            data = rng.randbytes(rng.randrange(0, 20))
            items.append((header(name, mime, len(data), extra=1) + data, ("frame", name, mime, len(data), data)))
    return items


def ending(rng):
    """What the stream may end with: nothing, a frame cut short, a cut header, or a huge size."""
    roll = rng.random()
    name, mime = rng.choice(VALID_NAMES), rng.choice(VALID_MIMES)
    if roll < 0.4:
        return b"", None
    if roll < 0.6:
        size = rng.randrange(1, 200)
        return header(name, mime, size) + rng.randbytes(rng.randrange(0, size)), ("frame", name, mime, size, None)
    if roll < 0.8:
        line = header(name, mime, 5)
        return line[: rng.randrange(0, len(line) - 1)], None
    size = rng.choice((1 << 40, 1 << 32, 10**9))
    return header(name, mime, size) + rng.randbytes(rng.randrange(0, 300)), ("frame", name, mime, size, None)


def expected(items, end_effect, max_count, max_bytes):
    model = Model(max_count, max_bytes)
    for effect in [e for _, e in items] + [end_effect]:
        if effect is None:
            continue
        if effect[0] == "drop":
            model.drop(effect[1])
        else:
            model.frame(*effect[1:])
    return model


def feed_in_slices(rng, s, stream, check):
    at = 0
    while at < len(stream):
        step = rng.choice((1, 2, 7, 64, 500, 4096, 65536))
        s.feed(stream[at : at + step])
        at += step
        check(s)


class FuzzTests(unittest.TestCase):
    def holds_no_more_than_its_caps(self, s):
        held = s.kept_bytes + (len(s.body) if s.body is not None else 0)
        self.assertLessEqual(held, s.max_bytes)
        self.assertLessEqual(sum(len(k[2]) for k in s.kept), s.max_bytes)
        self.assertLessEqual(len(s.kept), s.max_count)
        self.assertLessEqual(len(s.line), HEADER_MAX)
        self.assertLessEqual(len(s.dropped_names), MAX_DROPPED_NAMES)

    def test_structured_streams_keep_exactly_the_valid_frames_within_the_caps(self):
        rng = random.Random(20251205)
        started = time.process_time()  # CPU time: the host may be loaded
        for iteration in range(1500):
            items = generate(rng)
            end, end_effect = ending(rng)
            stream = b"".join(b for b, _ in items) + end
            max_count, max_bytes = rng.randrange(1, 7), rng.choice((0, 10, 100, 300, 1000, 1 << 20))
            model = expected(items, end_effect, max_count, max_bytes)
            s = sink(max_count, max_bytes)
            feed_in_slices(rng, s, stream, self.holds_no_more_than_its_caps)
            s.finish()
            where = "iteration %d" % iteration
            self.assertEqual(s.kept, model.kept, where)
            self.assertEqual((s.dropped, s.dropped_names), (model.dropped, model.dropped_names), where)
            self.assertEqual((s.skipped, s.skipped_names), (0, []), where)
        self.assertLess(time.process_time() - started, 2.0)

    def test_mangled_streams_never_raise_and_decode_the_same_however_sliced(self):
        rng = random.Random(5)
        started = time.process_time()
        for iteration in range(1000):
            stream = bytearray(b"".join(b for b, _ in generate(rng)) + ending(rng)[0])
            for _ in range(rng.randrange(0, 6)):
                at = rng.randrange(0, len(stream) + 1)
                roll = rng.random()
                if roll < 0.3 and stream:
                    stream[min(at, len(stream) - 1)] ^= 1 << rng.randrange(8)
                elif roll < 0.5:
                    stream[at:at] = rng.randbytes(rng.randrange(1, 50))
                elif roll < 0.7:
                    del stream[at : at + rng.randrange(1, 50)]
                elif roll < 0.85:
                    stream[at:at] = rng.choice(
                        (b"\n", b"{", b'"size": 99999999', b'{"size":1099511627776,"name":"a","mime":"a/b"}\n')
                    )
                else:
                    stream[at:at] = stream[rng.randrange(0, len(stream) + 1) :][: rng.randrange(1, 200)]
            stream = bytes(stream)
            max_count, max_bytes = rng.randrange(1, 5), rng.choice((0, 50, 500))
            whole = sink(max_count, max_bytes)
            whole.feed(stream)
            whole.finish()
            sliced = sink(max_count, max_bytes)
            feed_in_slices(rng, sliced, stream, self.holds_no_more_than_its_caps)
            sliced.finish()
            where = "iteration %d" % iteration
            self.assertEqual(state(sliced), state(whole), where)
            names = [k[0] for k in whole.kept]
            self.assertEqual(len(set(names)), len(names), where)
            for name, mime, _ in whole.kept:
                self.assertEqual(clean_name(name), name, where)
                self.assertEqual(artifacts.clean_mime(mime), mime, where)
            self.assertTrue(all(n.isprintable() for n in whole.dropped_names), where)
        self.assertLess(time.process_time() - started, 2.0)


class OutputFileTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sbx-artifacts-test-")
        self.root = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, path, data):
        full = os.path.join(self.root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
        return full

    def take(self, s, path, data, name=None):
        fd = os.open(self.write(path, data), os.O_RDONLY)
        try:
            artifacts.take_file(s, fd, path if name is None else name, len(data))
        finally:
            os.close(fd)

    def test_take_file_keeps_skips_or_drops(self):
        s = sink(max_count=3, max_bytes=100)
        self.take(s, "a.PNG", b"png")
        self.take(s, "bad-name", b"skipped", name="bad\nname.txt")
        self.take(s, "long", b"skipped", name="d/" + "x" * 200)
        self.take(s, "dir.d/file", b"no extension")
        # Skipped names take nothing of the caps and end nothing: the next still fits.
        self.take(s, "data.csv", b"a,b\n")
        self.take(s, "late.txt", b"dropped: past max_count")
        self.assertEqual(
            s.kept,
            [
                ("a.PNG", "image/png", b"png"),
                ("dir.d/file", "application/octet-stream", b"no extension"),
                ("data.csv", "text/csv", b"a,b\n"),
            ],
        )
        self.assertEqual((s.skipped, s.skipped_names), (2, ["bad?name.txt", "d/" + "x" * 198]))
        self.assertEqual((s.dropped, s.dropped_names), (1, ["late.txt"]))

    def test_a_file_named_like_an_earlier_artifact_gets_a_number(self):
        s = sink()
        s.feed(figure("figure-1.png", b"fig"))
        self.take(s, "figure-1.png", b"file 1")
        self.take(s, "f2", b"file 2", name="figure-1.png")
        self.take(s, "data", b"x")
        self.take(s, "data2", b"y", name="data")
        self.take(s, "dir.d/file", b"z")
        self.take(s, "dir.d/file2", b"w", name="dir.d/file")
        self.assertEqual(
            [k[0] for k in s.kept],
            ["figure-1.png", "figure-1-2.png", "figure-1-3.png", "data", "data-2", "dir.d/file", "dir.d/file-2"],
        )

    def test_walk_follows_no_link_opens_no_fifo_and_stays_within_depth_and_entries(self):
        outside = self.write("outside/secret.txt", b"secret")
        outputs = os.path.join(self.root, "outputs")
        self.write("outputs/b.txt", b"b")
        self.write("outputs/a/c.json", b"{}")
        self.write("outputs/bad\nname.txt", b"bad")
        os.symlink(outside, os.path.join(outputs, "link.txt"))
        os.symlink(os.path.dirname(outside), os.path.join(outputs, "linkdir"))
        os.mkfifo(os.path.join(outputs, "fifo"))
        deep = "/".join("d%d" % i for i in range(artifacts.MAX_OUTPUT_DEPTH + 1))
        self.write("outputs/%s/too-deep.txt" % deep, b"deep")
        self.write("outputs/%s/deep-enough.txt" % deep.rpartition("/")[0], b"ok")
        s = sink()
        fd = os.open(outputs, os.O_RDONLY | os.O_DIRECTORY)
        try:
            artifacts.walk_outputs(s, fd, "", 0, [artifacts.MAX_OUTPUT_ENTRIES])
        finally:
            os.close(fd)
        self.assertEqual(
            [k[0] for k in s.kept],
            ["a/c.json", "b.txt", deep.rpartition("/")[0] + "/deep-enough.txt"],
        )
        self.assertEqual(s.kept[0][1], "application/json")
        self.assertEqual((s.skipped, s.skipped_names), (1, ["bad?name.txt"]))
        # The entries budget counts every entry seen, folders included.
        few = sink()
        fd = os.open(outputs, os.O_RDONLY | os.O_DIRECTORY)
        try:
            artifacts.walk_outputs(few, fd, "", 0, [3])
        finally:
            os.close(fd)
        self.assertEqual([k[0] for k in few.kept], ["a/c.json", "b.txt"])

    def test_send_artifacts_writes_frames_and_returns_the_report_fields(self):
        s = sink(max_count=1)
        s.feed(figure("figure-1.png", b"\x89PNG\n") + figure("figure-2.png", b"2"))
        s.skip("bad\nname")
        with tempfile.TemporaryFile() as out:
            fields = artifacts.send_artifacts(out.fileno(), s)
            out.seek(0)
            frames = wire.FrameReader().feed(out.read())
        self.assertEqual(len(frames), 1)
        kind, payload = frames[0]
        self.assertEqual(kind, wire.ARTIFACT)
        head, _, data = payload.partition(b"\n")
        self.assertEqual(wire.json_loads(head), {"name": "figure-1.png", "mime": "image/png", "bytes": 5})
        self.assertEqual(data, b"\x89PNG\n")
        self.assertEqual(
            fields,
            {
                "artifacts_dropped": 1,
                "dropped_names": ["figure-2.png"],
                "artifacts_skipped": 1,
                "skipped_names": ["bad?name"],
            },
        )
        with tempfile.TemporaryFile() as out:
            self.assertEqual(artifacts.send_artifacts(out.fileno(), sink()), {})
            self.assertEqual(os.fstat(out.fileno()).st_size, 0)

    def test_artifact_spec(self):
        self.assertEqual(artifacts.artifact_spec(None), artifacts.NO_ARTIFACTS)
        spec = {"format": "svg", "max_count": 3, "max_bytes": 10}
        self.assertEqual(artifacts.artifact_spec(spec), spec)
        odd = artifacts.artifact_spec({"format": "gif", "max_count": True, "max_bytes": -1})
        self.assertEqual(odd, artifacts.NO_ARTIFACTS)
        clamped = artifacts.artifact_spec({"max_count": 10**9, "max_bytes": 1 << 40})
        self.assertEqual(clamped, {"format": "png", "max_count": 10000, "max_bytes": 1 << 30})

    def test_names(self):
        for ok in ["figure-1.png", "data/out.csv", "a b/\u00fc.txt", "x" * 200, ".hidden", "\U0001f600" * 200]:
            self.assertEqual(clean_name(ok), ok)
        for bad in BAD_NAMES + ["a/./b", "a\x7fb", "a\x85b", "a\u200bb", "\U0001f600" * 201]:
            self.assertIsNone(clean_name(bad), repr(bad))
        self.assertEqual(shown_name("a\nb\x00" + "c" * 300), "a?b?" + "c" * 196)
        self.assertEqual(shown_name(b"bytes"), "b'bytes'")


class ReportBoundTests(unittest.TestCase):
    def test_the_largest_report_fits_its_frame(self):
        """Everything in a report the program can choose, at its largest: it must fit the worker's
        bound for a report frame (max_report_bytes), or the run would end in a protocol fault."""
        import sbx_relay

        huge = "\U0001f600" * 1000
        s = sink(max_count=1, max_bytes=1)
        for _ in range(100):
            s.drop(huge)
            s.skip(huge)
        violation = sbx_relay.parse_violation(wire.json_dumps({"message": huge, "line": 2**31 - 1}).encode())
        report = {
            "v": wire.VERSION,
            "timed_out": False,
            "cpu_limit": False,
            "exit_code": 255,
            "signal": None,
            "time": -1.2345678901234e300,
            "cpu_time": 1.2345678901234e300,
            "max_rss_kb": 2**63,
            "base_rss_kb": 10**15,
            "memory_error": False,
            "ended_itself": False,
            "violation": violation,
            "test": 10**6,
            "artifacts_dropped": 10**12,
            "dropped_names": s.dropped_names,
            "artifacts_skipped": 10**12,
            "skipped_names": s.skipped_names,
        }
        self.assertLessEqual(len(wire.json_dumps(report).encode()), wire.MAX_REPORT)


if __name__ == "__main__":
    unittest.main()
