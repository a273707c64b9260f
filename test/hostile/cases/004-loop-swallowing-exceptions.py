# expect: timeout
# floor: timeout
# policy: strict
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
