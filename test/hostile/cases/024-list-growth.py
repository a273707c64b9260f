# expect: memory_limit
# floor: memory_limit
# policy: strict
chunks = []
while True:
    chunks.append(bytearray(2**20))
