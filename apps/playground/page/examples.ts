/** Programs the Examples menu loads: each shows one thing the playground does. */
import type { SharedProgram } from './share.js';

export interface Example extends SharedProgram {
  title: string;
}

export const EXAMPLES: Example[] = [
  {
    title: 'Live output',
    code: `import time

print("Counting down…")
for n in range(3, 0, -1):
    print(n)
    time.sleep(1)
print("Lift-off!")
`,
  },
  {
    title: 'Ask for input',
    code: `name = input("What's your name? ")
print(f"Hello, {name}!")
age = int(input("How old are you? "))
print(f"In ten years you will be {age + 10}.")
`,
  },
  {
    title: 'Chart (python-data)',
    environment: 'python-data',
    code: `import numpy as np
import matplotlib.pyplot as plt

x = np.linspace(0, 4 * np.pi, 400)
plt.figure(figsize=(7, 3.5))
plt.plot(x, np.sin(x), label="sin x")
plt.plot(x, np.cos(x) * np.exp(-x / 8), label="damped cos x")
plt.legend()
plt.title("Two waves")
plt.tight_layout()
print("Drew one figure.")
`,
  },
  {
    title: 'Test cases',
    code: `a, b = map(int, input().split())
print(a + b)
`,
    tests: [
      { stdin: '2 3', expected_output: '5' },
      { stdin: '10 -4', expected_output: '6' },
      { stdin: '123456789 987654321', expected_output: '1111111110' },
    ],
  },
  {
    title: 'An error',
    code: `def average(values):
    return sum(values) / len(values)

print("Average of [1, 2, 3]:", average([1, 2, 3]))
print("Average of []:", average([]))
`,
  },
];
