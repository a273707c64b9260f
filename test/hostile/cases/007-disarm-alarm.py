# expect: timeout
# floor: timeout
# policy: strict
import signal
signal.alarm(0)
signal.signal(signal.SIGALRM, signal.SIG_IGN)
while True:
    pass
