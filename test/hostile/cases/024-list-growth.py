# expect: memory_limit
# floor: memory_limit
# policy: strict
# time_ms: 2000
chunks = []
while True:
    chunks.append(bytearray(2**20))
