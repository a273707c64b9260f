# expect: security_violation
# floor: ok
# policy: standard
import gc
hooks = [o for o in gc.get_objects() if getattr(o, '__name__', '') == 'hook']
print(len(hooks))
