# expect: memory_limit timeout
# floor: memory_limit timeout
# policy: strict
# time_ms: 2000
s = 'a'
while True:
    s += s
