# expect: ok
# floor: ok
# policy: strict
# environment: python-data
# Ordinary use: a 1,000-point line chart with the submodules users touch (colors, ticker, dates,
# patches, figure) and a 3-D axes from mpl_toolkits.
import io
import matplotlib
import matplotlib.colors as mcolors
import matplotlib.dates as mdates
import matplotlib.patches as mpatches
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d import Axes3D  # noqa: F401
t = np.linspace(0, 10, 1000)
fig, ax = plt.subplots()
ax.plot(pd.date_range("2024-01-01", periods=1000, freq="h"), np.sin(t), color=mcolors.to_hex("tab:red"))
ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
ax.yaxis.set_major_locator(mticker.MaxNLocator(5))
ax.add_patch(mpatches.Rectangle((mdates.date2num(pd.Timestamp("2024-01-05")), 0), 2, 0.5, alpha=0.2))
buf = io.BytesIO()
fig.savefig(buf, format="png", dpi=80)
f3 = Figure()
ax3 = f3.add_subplot(projection="3d")
ax3.plot(np.cos(t), np.sin(t), t)
f3.savefig(io.BytesIO(), format="png")
print(matplotlib.get_backend(), buf.getvalue()[:4], len(ax.lines[0].get_xdata()))
