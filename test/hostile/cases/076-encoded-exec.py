# expect: security_violation
# floor: ok
# policy: strict
exec(bytes.fromhex('7072696e74282770776e656427290a').decode())
