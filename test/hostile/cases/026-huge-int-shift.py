# expect: memory_limit
# floor: memory_limit
# policy: strict
x = 1 << (8 * 2**30)
print(x.bit_length())
