# expect: ok
# floor: ok
# policy: standard
try:
    print(open('/etc/shadow').read())
except OSError as e:
    print('refused', e.errno)
