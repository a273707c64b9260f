# expect: security_violation
# floor: ok
# policy: strict
ｅｘｅｃ('print(42)')
