# expect: ok
# floor: ok
# policy: strict
# environment: python-data
# Ordinary use: numpy.linalg, numpy.random, numpy.fft.
import numpy as np
import numpy.linalg
a = np.array([[3.0, 1.0], [1.0, 2.0]])
b = np.array([9.0, 8.0])
x = np.linalg.solve(a, b)
print(x, np.allclose(a @ x, b))
rng = np.random.default_rng(0)
m = rng.normal(size=(50, 50))
print(round(float(np.linalg.det(m @ m.T)) > 0, 3), np.linalg.eigvalsh(m @ m.T).shape)
print(np.fft.rfft(np.sin(np.linspace(0, 8 * np.pi, 64))).argmax())
