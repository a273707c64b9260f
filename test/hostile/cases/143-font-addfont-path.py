# expect: security_violation
# floor: runtime_error
# policy: strict
# environment: python-data
import matplotlib.font_manager as fm
fm.fontManager.addfont('/etc/hostname')
print(fm.fontManager.ttflist[-1])
