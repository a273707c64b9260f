# expect: ok
# floor: ok
# policy: standard
# never: Traceback
# time_ms: 2000
# O_NONBLOCK set on the program's stdout and stderr: the program copes with EAGAIN itself (select, then
# write again), so all of its output arrives. Whatever flag it leaves on its descriptors, nothing the
# supervisor writes afterwards may fail because of it (today they share one file description).
import fcntl
import os
import select
for fd in (1, 2):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
def write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [])
line = b'x' * 63 + b'\n'
write_all(1, line * 6000)
write_all(2, line * 6000)
write_all(1, b'done\n')
