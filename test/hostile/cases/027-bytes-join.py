# expect: memory_limit
# floor: memory_limit
# policy: strict
chunk = b'x' * 2**20
data = b''.join([chunk] * 400)
print(len(data))
