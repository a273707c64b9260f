# expect: security_violation
# floor: security_violation
# policy: strict
# environment: python-data
# never: pwned
# The attribute named by a string the AST check cannot see: the audit hook's process event refuses it.
import operator
import numpy as np
operator.attrgetter('lib.npyio.' + 'o' + 's')(np).system('echo pwned')
