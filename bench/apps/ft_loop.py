"""The CPU-bound loop of ft_cpu.py's handler, alone, for
ft_contention.py, which imports this file twice."""


def loop():
    x = 0
    for i in range(20000):
        x = (x * 31 + i) % 1000003
    return x
