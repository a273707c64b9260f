# expect: memory_limit timeout
# floor: memory_limit timeout
# policy: strict
s = 'a'
while True:
    s += s
