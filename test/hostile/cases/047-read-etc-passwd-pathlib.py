# expect: security_violation
# floor: ok
# policy: strict
import pathlib
print(pathlib.Path('/etc/passwd').read_text())
