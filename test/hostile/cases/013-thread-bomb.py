# expect: ok
# floor: ok
# policy: strict
import threading, time
n = 0
try:
    while True:
        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
        n += 1
except RuntimeError:
    print('threads capped')
