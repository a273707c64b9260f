"""Puts the harness modules (infra/sandbox/harness) on sys.path for the tests beside this file.

These tests run on the host, without Docker. Never call supervisor.main(),
sbx_processes.kill_all_but_me() or sbx_processes.forget_program_files() from them: on the host they
would kill every process this user may signal (kill(-1)) and empty its /tmp and /dev/shm. Importing
supervisor.py is avoided too: it takes the harness modules out of sys.modules as it loads.
"""

import os
import sys

HARNESS_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "infra", "sandbox", "harness"))
if HARNESS_DIR not in sys.path:
    sys.path.insert(0, HARNESS_DIR)
