# expect: security_violation
# floor: security_violation
# policy: strict
# time_ms: 2000
# never: uid=
# The audit hook ignores every event raised while it is already busy (its re-entrancy guard), and the
# guard is shared by all threads. A thread keeps the hook busy with library reads of a long stdlib
# path it must resolve component by component; a thread switch lands inside the hook almost always,
# and the main thread's os.system then passes unseen. (os itself comes from pathlib by a computed name.)
import operator
import pathlib
import threading
import time
os = operator.attrgetter('o' + 's')(pathlib)
lib = pathlib.__file__.rpartition('/')[0] + '/'
path = pathlib.Path(lib + 'encodings/../' * 250 + 'this.py')
def keep_the_hook_busy():
    while True:
        path.read_bytes()
threading.Thread(target=keep_the_hook_busy, daemon=True).start()
time.sleep(0.05)
os.system('id')
print('after the race')
