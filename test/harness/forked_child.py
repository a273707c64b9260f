"""A forked child on pipes of its own, for the harness tests beside this file (no Docker)."""

import os
import sys
from types import SimpleNamespace


def spawn(body):
    """Forks a child whose fds 1 and 2 are pipes of its own, and runs body(status_w, artifact_w) in
    it. Returns its pid and the read ends (out_r, err_r, status_r, artifact_r), as ChildWatch wants."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    status_r, status_w = os.pipe()
    artifact_r, artifact_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (out_r, err_r, status_r, artifact_r, out_w, err_w):
                os.close(fd)
            body(status_w, artifact_w)
        except BaseException:
            code = 70
        os._exit(code)
    for fd in (out_w, err_w, status_w, artifact_w):
        os.close(fd)
    return pid, SimpleNamespace(out_r=out_r, err_r=err_r, status_r=status_r, artifact_r=artifact_r)
