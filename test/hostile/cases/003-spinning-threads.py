# expect: timeout
# floor: timeout
# policy: strict
import threading

def spin():
    while True:
        pass

for _ in range(8):
    threading.Thread(target=spin, daemon=True).start()
while True:
    pass
