# expect: security_violation
# floor: security_violation
# policy: standard
import multiprocessing

def f():
    pass

multiprocessing.Process(target=f).start()
print('spawned')
