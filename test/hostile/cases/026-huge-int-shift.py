# expect: memory_limit
# floor: memory_limit
# policy: strict
# time_ms: 2000
x = 1 << (8 * 2**30)
print(x.bit_length())
