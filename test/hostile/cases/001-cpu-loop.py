# expect: timeout
# floor: timeout
# policy: strict
while True:
    pass
