# expect: security_violation
# floor: ok
# policy: strict
# Debian's /usr/lib/python3.11/sitecustomize.py is a symlink to /etc/python3.11/sitecustomize.py: a
# path under an allowed directory that resolves outside it is refused (its content is harmless).
import linecache
print(linecache.getline('/usr/lib/python3.11/sitecustomize.py', 1))
