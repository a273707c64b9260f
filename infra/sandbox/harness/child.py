"""Runs one submission in a fresh interpreter started by the supervisor.

argv: code_fd status_fd time_ms memory_mb. The code arrives on a pipe (never on
argv), is compiled from the exact bytes received, and runs as __main__ with
tracebacks that show the user's own file name and lines.
"""

import os
import resource
import sys
import time

FILENAME = "main.py"


def read_fd(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def set_limits(time_ms, memory_mb):
    # CPU seconds: a backstop behind the supervisor's wall clock, for spinning
    # threads that outlive a kill. Soft = hard so user code cannot raise them.
    cpu = time_ms // 1000 + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    # Address space well above the memory limit: large allocations fail fast
    # with MemoryError, while the cgroup limit stays the real bound on use.
    address_space = (memory_mb + 256) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))


def main():
    code_fd, status_fd, time_ms, memory_mb = (int(a) for a in sys.argv[1:5])
    source = read_fd(code_fd)
    set_limits(time_ms, memory_mb)
    sys.argv = [FILENAME]
    sys.path = [p for p in sys.path if p]

    try:
        code = compile(source, FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        import traceback  # imported only on failure: it costs ~20 ms under gVisor

        traceback.print_exception(exc, limit=0)
        sys.exit(1)

    namespace = {"__name__": "__main__", "__file__": FILENAME, "__builtins__": __builtins__}
    # The supervisor's clock for the time limit and the reported time starts here,
    # so interpreter start-up is not billed to the submission.
    os.write(status_fd, b"start %.9f\n" % time.monotonic())
    try:
        exec(code, namespace)
    except SystemExit:
        raise
    except BaseException as exc:
        if isinstance(exc, MemoryError):
            try:
                os.write(status_fd, b"memory_error\n")
            except OSError:
                pass
        import linecache
        import traceback

        text = source.decode("utf-8", "replace")
        linecache.cache[FILENAME] = (len(text), None, text.splitlines(True), FILENAME)
        # Drop this bootstrap's own frame so the traceback starts in the user's file.
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None
        traceback.print_exception(type(exc), exc, tb)
        sys.exit(1)


if __name__ == "__main__":
    main()
