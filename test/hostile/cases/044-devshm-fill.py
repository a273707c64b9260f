# expect: security_violation
# floor: ok memory_limit
# policy: standard
n = 0
try:
    with open('/dev/shm/fill', 'wb') as f:
        while True:
            f.write(b'x' * 2**20)
            n += 1
except OSError as e:
    print('stopped after', n, 'MB')
