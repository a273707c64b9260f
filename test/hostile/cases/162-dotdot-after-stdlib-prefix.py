# expect: security_violation
# floor: ok
# policy: strict
# never-on: root:
# Spelled with the standard library's prefix, resolved to /etc/passwd: refused.
import linecache
print(linecache.getline('/usr/lib/python3.11/../../../etc/passwd', 1))
