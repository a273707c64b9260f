# expect: memory_limit
# floor: memory_limit
# policy: strict
# time_ms: 2000
chunk = b'x' * 2**20
data = b''.join([chunk] * 400)
print(len(data))
