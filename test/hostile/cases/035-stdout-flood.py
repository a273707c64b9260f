# expect: output_limit
# floor: output_limit
# policy: strict
while True:
    print('x' * 1000)
