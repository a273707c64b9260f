# expect: security_violation
# floor: any
# policy: standard
import multiprocessing

def f():
    pass

multiprocessing.Process(target=f).start()
print('spawned')
