# expect: security_violation
# floor: security_violation
# policy: strict
import multiprocessing

def f():
    while True:
        pass

while True:
    multiprocessing.Process(target=f).start()
