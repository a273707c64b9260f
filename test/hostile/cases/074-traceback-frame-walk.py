# expect: security_violation
# floor: ok
# policy: strict
try:
    1 / 0
except Exception as e:
    print(e.__traceback__.tb_frame.f_back)
