# expect: memory_limit
# floor: memory_limit
# policy: strict
x = bytearray(300 * 2**20)
print('allocated')
