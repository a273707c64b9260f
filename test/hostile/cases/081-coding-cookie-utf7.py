# expect: security_violation
# floor: ok
# policy: strict
# -*- coding: utf_7 -*-
print('hi')
+AGkAbQBwAG8AcgB0ACA-os
