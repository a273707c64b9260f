"""A run's artifacts: the child's figure frames from the artifact pipe (parsed defensively: the
program holds that pipe too) and, in the standard profile, the files it left under the outputs
folder, all within the job's caps; then sent to the worker as artifact frames.
"""

import os
import stat

from sbx_wire import ARTIFACT, ARTIFACTS, PROGRAM, json_dumps, json_loads, send

OUTPUTS_DIR = PROGRAM["outputs_dir"]
MAX_OUTPUT_ENTRIES = ARTIFACTS["max_output_entries"]
MAX_OUTPUT_DEPTH = ARTIFACTS["max_output_depth"]
MAX_ARTIFACT_NAME = ARTIFACTS["max_name"]
MAX_DROPPED_NAMES = ARTIFACTS["max_dropped_names"]
NO_ARTIFACTS = {"format": "png", "max_count": 0, "max_bytes": 0}
OUTPUT_MIMES = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "csv": "text/csv",
    "json": "application/json",
    "txt": "text/plain",
    "html": "text/html",
    "htm": "text/html",
    "pdf": "application/pdf",
}


def clean_name(name):
    """An artifact name as it may leave the sandbox: a relative path of printable characters, no
    empty, "." or ".." segment, at most MAX_ARTIFACT_NAME characters; None otherwise."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_ARTIFACT_NAME or not name.isprintable():
        return None
    if "\\" in name or any(part in ("", ".", "..") for part in name.split("/")):
        return None
    return name


def shown_name(name):
    """Any name, made printable and short, for the report's list of dropped artifacts."""
    text = name if isinstance(name, str) else repr(name)
    return "".join(c if c.isprintable() else "?" for c in text[:MAX_ARTIFACT_NAME])


def clean_mime(mime):
    if not isinstance(mime, str) or not 2 < len(mime) <= 100 or not mime.isascii() or mime.count("/") != 1:
        return None
    return mime if all(c.isalnum() or c in "+-./" for c in mime) else None


def artifact_spec(raw):
    """The frame's "artifacts" ({format, max_count, max_bytes}); max_count 0 (nothing collected)
    when it is absent or malformed."""
    spec = dict(NO_ARTIFACTS)
    if isinstance(raw, dict):
        if raw.get("format") in ("png", "svg"):
            spec["format"] = raw["format"]
        for key, bound in (("max_count", 10000), ("max_bytes", 1 << 30)):
            value = raw.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                spec[key] = min(value, bound)
    return spec


class ArtifactSink:
    """A run's artifacts in order, within the job's caps: the child's figure frames from the
    artifact pipe while it runs (a header line {"name","mime","size"} then size bytes, or
    {"dropped": name}), then, in the standard profile, the files under OUTPUTS_DIR. Past a cap, what
    fit is kept and everything after is dropped and counted. User code holds the pipe too: frames
    are parsed defensively (garbage is skipped up to the next newline) and no more than max_bytes of
    content is ever held."""

    HEADER_MAX = 4096

    def __init__(self, spec):
        self.max_count = spec["max_count"]
        self.max_bytes = spec["max_bytes"]
        self.kept = []  # (name, mime, data)
        self.kept_bytes = 0
        self.names = set()
        self.dropped = 0
        self.dropped_names = []
        self.skipped = 0
        self.skipped_names = []
        self.full = False
        self.line = b""
        self.skipping = False  # inside a line longer than HEADER_MAX: not a header
        self.body_left = 0
        self.body = None  # a bytearray while keeping a frame's content, None while discarding it
        self.body_meta = None

    def drop(self, name):
        # A cap reached: this one and everything after it.
        self.full = True
        self.dropped += 1
        if len(self.dropped_names) < MAX_DROPPED_NAMES:
            self.dropped_names.append(shown_name(name))

    def skip(self, name):
        # A file whose name cannot leave the sandbox: only itself is left out, and it is no limit's
        # doing (the result says so apart from what the caps dropped).
        self.skipped += 1
        if len(self.skipped_names) < MAX_DROPPED_NAMES:
            self.skipped_names.append(shown_name(name))

    def offer(self, name, size):
        """Whether an artifact of `size` bytes still fits; counted as dropped when not."""
        if not self.full and len(self.kept) < self.max_count and self.kept_bytes + size <= self.max_bytes:
            return True
        self.drop(name)
        return False

    def add(self, name, mime, data):
        self.kept.append((name, mime, data))
        self.kept_bytes += len(data)
        self.names.add(name)

    def unique(self, name):
        """`name`, or name-2.ext, name-3.ext, ... when an earlier artifact has it (a file named like a figure)."""
        if name not in self.names:
            return name
        stem, dot, ext = name.rpartition(".")
        if not dot or "/" in ext:
            stem, dot, ext = name, "", ""
        n = 2
        while "%s-%d%s%s" % (stem, n, dot, ext) in self.names:
            n += 1
        return "%s-%d%s%s" % (stem, n, dot, ext)

    def feed(self, chunk):
        at, end = 0, len(chunk)
        while at < end:
            if self.body_left:
                n = min(self.body_left, end - at)
                if self.body is not None:
                    self.body += chunk[at : at + n]
                at += n
                self.body_left -= n
                if not self.body_left:
                    self.end_body()
                continue
            newline = chunk.find(b"\n", at)
            if newline < 0:
                if not self.skipping:
                    self.line += chunk[at:]
                    if len(self.line) > self.HEADER_MAX:
                        self.line, self.skipping = b"", True
                return
            line, self.line = self.line + chunk[at:newline], b""
            at = newline + 1
            if self.skipping or len(line) > self.HEADER_MAX:
                self.skipping = False
                continue
            self.header(line)

    def header(self, line):
        try:
            found = json_loads(line)
        except Exception:
            return  # not a header: skipped
        if not isinstance(found, dict):
            return
        if len(found) == 1 and isinstance(found.get("dropped"), str):
            self.drop(found["dropped"])
            return
        size = found.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= 1 << 40:
            return
        self.body_left, self.body, self.body_meta = size, None, None
        name, mime = clean_name(found.get("name")), clean_mime(found.get("mime"))
        # A bad or repeated name is someone else's frame (user code can write here): its content is skipped.
        if name is not None and mime is not None and name not in self.names and self.offer(name, size):
            self.body, self.body_meta = bytearray(), (name, mime)
        if not size:
            self.end_body()

    def end_body(self):
        if self.body is not None:
            name, mime = self.body_meta
            self.add(name, mime, bytes(self.body))
        self.body, self.body_meta = None, None

    def finish(self):
        # The child is gone and its pipe drained: a frame cut short (a child killed while writing
        # it) is discarded.
        self.body = None


def make_outputs_dir():
    try:
        os.mkdir(OUTPUTS_DIR, 0o700)
    except OSError:
        pass  # already there (a rerun by hand), or /tmp is not writable: nothing is collected


def collect_outputs(sink):
    """The regular files under OUTPUTS_DIR, in name order, into sink. Called with the program's
    uid (as_program_user) once all of its processes are gone: nothing is followed (O_NOFOLLOW on
    every segment, below a folder opened by fd), only regular files are read (fstat; O_NONBLOCK so a
    FIFO cannot block the open), at most MAX_OUTPUT_ENTRIES entries MAX_OUTPUT_DEPTH deep."""
    try:
        fd = os.open(OUTPUTS_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return  # gone, or replaced by a symlink or a file
    try:
        walk_outputs(sink, fd, "", 0, [MAX_OUTPUT_ENTRIES])
    finally:
        os.close(fd)


def walk_outputs(sink, dir_fd, prefix, depth, budget):
    try:
        with os.scandir(dir_fd) as entries:
            names = sorted(entry.name for entry in entries)
    except OSError:
        return
    for name in names:
        if budget[0] <= 0:
            return
        budget[0] -= 1
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError:
            continue  # a symlink (ELOOP), a socket, or unreadable to the program itself
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                if depth < MAX_OUTPUT_DEPTH:
                    walk_outputs(sink, fd, prefix + name + "/", depth + 1, budget)
            elif stat.S_ISREG(info.st_mode):
                take_file(sink, fd, prefix + name, info.st_size)
        finally:
            os.close(fd)


def take_file(sink, fd, path, size):
    name = clean_name(path)
    if name is None:
        sink.skip(path)
        return
    name = sink.unique(name)
    if not sink.offer(name, size):
        return
    chunks, got = [], 0
    while got < size:
        chunk = os.read(fd, min(1 << 20, size - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    ext = name.rpartition("/")[2].rpartition(".")[2].lower() if "." in name.rpartition("/")[2] else ""
    sink.add(name, OUTPUT_MIMES.get(ext, "application/octet-stream"), b"".join(chunks))


def send_artifacts(fd, sink):
    """The kept artifacts as frames, in order: a JSON header line {name, mime, bytes}, then the raw
    bytes. Returns the report's artifact fields (empty when nothing was kept, dropped or skipped)."""
    for name, mime, data in sink.kept:
        header = json_dumps({"name": name, "mime": mime, "bytes": len(data)}).encode()
        send(fd, ARTIFACT, header + b"\n" + data)
    if not (sink.kept or sink.dropped or sink.skipped):
        return {}
    return {
        "artifacts_dropped": sink.dropped,
        "dropped_names": sink.dropped_names,
        "artifacts_skipped": sink.skipped,
        "skipped_names": sink.skipped_names,
    }
