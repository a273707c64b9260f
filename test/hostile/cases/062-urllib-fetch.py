# expect: security_violation
# floor: security_violation
# policy: strict
import urllib.request
try:
    urllib.request.urlopen('http://127.0.0.1:6379/', timeout=1)
except Exception as e:
    print('refused', type(e).__name__)
