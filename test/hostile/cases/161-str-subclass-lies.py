# expect: security_violation
# floor: ok
# policy: strict
# never-on: root:
# A str subclass whose methods lie: the hook judges its characters, never its methods.
import linecache
class S(str):
    def startswith(self, *args):
        return True
    def split(self, *args):
        return ['usr']
    def __add__(self, other):
        return '/usr/lib/python3.11/'
print(linecache.getline(S('/etc/passwd'), 1))
