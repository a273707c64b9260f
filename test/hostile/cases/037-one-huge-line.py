# expect: output_limit
# floor: output_limit
# policy: strict
print('x' * (5 * 2**20))
