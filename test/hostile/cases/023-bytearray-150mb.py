# expect: memory_limit
# floor: memory_limit
# policy: strict
# time_ms: 2000
x = bytearray(150 * 2**20)
print('allocated')
