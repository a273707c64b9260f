# expect: security_violation
# floor: security_violation
# policy: strict
# never: uid=
for c in ().__class__.__base__.__subclasses__():
    if c.__name__ == '_wrap_close':
        print(c.__init__.__globals__['system']('id'))
