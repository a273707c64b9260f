# expect: ok
# floor: ok
# policy: strict
# environment: python-data
# Ordinary use: mathtext in a title, legend and text (it opens matplotlib's other fonts: DejaVu
# Display, STIX), bars, scatter, hist, imshow; savefig to BytesIO as PNG and SVG.
import io
import matplotlib.pyplot as plt
import numpy as np
x = np.linspace(0, 2, 50)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3))
ax1.plot(x, x**2, label=r"$x^2$")
ax1.scatter(x, x, s=4, label="points")
ax1.bar([0.5, 1.5], [1, 2], alpha=0.3)
ax1.set_title(r"$\alpha x^2 + \sqrt{\beta}$ and $\int_0^1 f(x)\,dx$")
ax1.text(0.2, 2.5, r"$\mathcal{A}\ \mathbb{R}\ \mathrm{d}\sum_{i=0}^{n} i$")
ax1.legend()
ax2.imshow(np.arange(100).reshape(10, 10), cmap="viridis")
ax2.hist(np.random.default_rng(1).normal(size=200), bins=20)
for fmt in ("png", "svg"):
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    print(fmt, buf.getvalue()[:4], len(buf.getvalue()) > 1000)
