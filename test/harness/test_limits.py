"""sbx_limits.set_limits: the program's CPU allowance starts from what its child was already charged
(a warm child waits for its job, and gVisor charges a waiting python-data child CPU time), no Docker.

    /usr/bin/python3 -m unittest discover -s test/harness -p 'test_*.py'
"""

import os
import resource
import time
import unittest

import harness_path  # noqa: F401  (puts the harness on sys.path)
import sbx_limits
from forked_child import spawn


def burn(seconds):
    """Spends about `seconds` of this process's CPU time."""
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


def limited_child(charged_before, used_after):
    """A forked child charged `charged_before` s of CPU, then limited for a 0 ms job (the backstop's
    2 s), then using `used_after` s more: (exit code or -signal, the CPU seconds set_limits saw before)."""

    def body(status_w, _artifact_w):
        burn(charged_before)
        _, cpu_before = sbx_limits.set_limits(0, 64)
        os.write(status_w, b"%d\n" % int(cpu_before * 1e6))
        burn(used_after)

    pid, pipes = spawn(body)
    _, status = os.waitpid(pid, 0)
    for fd in (pipes.out_r, pipes.err_r, pipes.artifact_r):
        os.close(fd)
    with os.fdopen(pipes.status_r, "rb") as events:
        seen = events.read().strip()
    return os.waitstatus_to_exitcode(status), int(seen or 0) / 1e6


class CpuAllowance(unittest.TestCase):
    def test_cpu_charged_before_the_job_does_not_count_against_the_program(self):
        # Past the 2 s backstop before the job: an absolute RLIMIT_CPU would kill the program at once.
        code, cpu_before = limited_child(2.2, 0.3)
        self.assertEqual(code, 0)
        self.assertGreaterEqual(cpu_before, 2.2)

    def test_the_program_still_meets_the_backstop_after_its_allowance(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        self.assertEqual((soft, hard), (resource.RLIM_INFINITY, resource.RLIM_INFINITY), "the test runner is unlimited")
        code, _ = limited_child(0.5, 10)
        # SIGXCPU at the soft limit, which equals the hard one: the program cannot raise it.
        self.assertIn(code, (-24, -9))


if __name__ == "__main__":
    unittest.main()
