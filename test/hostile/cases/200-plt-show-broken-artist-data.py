# expect: runtime_error
# floor: runtime_error
# policy: strict
# environment: python-data
# never: /opt/sbx
# never: child.py
# never: sbx_
# An artist that raises while drawn: the exception goes up through plt.show(), which the harness
# replaced with its figure capture. The traceback shows the program's frames and matplotlib's, never
# the harness's, and formatting it changes no verdict.
import matplotlib.artist
import matplotlib.pyplot as plt
class Broken(matplotlib.artist.Artist):
    def draw(self, renderer):
        raise RuntimeError('broken artist')
fig = plt.figure()
fig.add_artist(Broken())
plt.show()
print('shown')
