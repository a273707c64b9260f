# expect: security_violation
# floor: any
# policy: standard
f = open('/proc/self/mem', 'r+b')
f.seek(0x400000)
f.write(b'\xcc' * 16)
print('patched')
