# expect: security_violation
# floor: runtime_error
# policy: strict
# environment: python-data
# A user-chosen font file: FreeType would open /etc/passwd.
import io
import matplotlib.pyplot as plt
from matplotlib.font_manager import FontProperties
fig = plt.figure()
fig.text(0.5, 0.5, 'hello', fontproperties=FontProperties(fname='/etc/passwd'))
fig.savefig(io.BytesIO(), format='png')
