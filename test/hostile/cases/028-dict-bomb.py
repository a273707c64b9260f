# expect: memory_limit timeout
# floor: memory_limit timeout
# policy: strict
# time_ms: 2000
d = {}
i = 0
while True:
    d[i] = str(i) * 10
    i += 1
