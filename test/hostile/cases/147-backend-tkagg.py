# expect: runtime_error
# floor: runtime_error
# policy: strict
# environment: python-data
# No Tk in the image: switching to an interactive backend fails with ImportError.
import matplotlib
matplotlib.use('TkAgg', force=True)
import matplotlib.pyplot as plt
plt.figure()
