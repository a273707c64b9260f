# expect: security_violation
# floor: security_violation
# policy: standard
# time_ms: 2000
# never: uid=
# multiprocessing's spawn and forkserver start methods (and its resource tracker) start a fresh
# interpreter through multiprocessing.util.spawnv_passfds: fork_exec, no audit event. The new
# interpreter has no audit hook at all.
import os
import sys
from multiprocessing.util import spawnv_passfds
pid = spawnv_passfds(sys.executable.encode(), [sys.executable, '-c', 'import os; os.system("id")'], ())
os.waitpid(pid, 0)
print('after spawnv_passfds')
