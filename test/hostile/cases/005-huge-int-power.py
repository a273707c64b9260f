# expect: timeout
# floor: timeout memory_limit
# policy: strict
x = 7 ** (10 ** 9)
print(x % 10)
