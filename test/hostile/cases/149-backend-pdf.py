# expect: ok
# floor: ok
# policy: strict
# environment: python-data
# A non-interactive backend switch is harmless: PDF to memory.
import io
import matplotlib
matplotlib.use('pdf', force=True)
import matplotlib.pyplot as plt
plt.plot([1, 2])
buf = io.BytesIO()
plt.savefig(buf, format='pdf')
print(buf.getvalue()[:5])
