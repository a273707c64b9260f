# expect: ok
# floor: ok
# policy: strict
# never: Traceback
# time_ms: 2000
# In strict, asyncio's pipe transport sets O_NONBLOCK on the descriptor it is given
# (loop.connect_write_pipe on sys.stdout and sys.stderr), and copes with EAGAIN itself: all of the
# output arrives. Nothing the supervisor writes afterwards may fail because of the flag.
import asyncio
import sys
async def main():
    loop = asyncio.get_running_loop()
    out, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout)
    err, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stderr)
    line = b'x' * 63 + b'\n'
    out.write(line * 6000)
    err.write(line * 6000)
    out.write(b'done\n')
    while out.get_write_buffer_size() or err.get_write_buffer_size():
        await asyncio.sleep(0.005)
asyncio.run(main())
