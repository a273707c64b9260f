# expect: ok
# floor: ok
# policy: standard
print(eval(compile('6 * 7', 'x', 'eval')))
