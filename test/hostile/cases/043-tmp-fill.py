# expect: ok
# floor: ok
# policy: standard
n = 0
try:
    with open('/tmp/fill', 'wb') as f:
        while True:
            f.write(b'x' * 2**20)
            n += 1
except OSError as e:
    print('stopped after', n, 'MB')
