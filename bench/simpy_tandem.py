"""The reference tandem benchmark written for SimPy, to compare Doppel's engine with the tool
most people would reach for: 10 M/M/2 stations in series, Poisson arrivals at 0.8/s,
exponential service at 0.5/s per server, unbounded queues. Prints station visits per CPU second.

    pip install simpy==4.1.1
    python3 bench/simpy_tandem.py [CUSTOMERS]      # default 100000 (1,000,000 station visits)

The same model in Doppel is `doppel bench tandem` (examples/queueing/tandem.yaml as a twin).
"""

import random
import sys
import time

import simpy

STATIONS, SERVERS, LAMBDA, MU = 10, 2, 0.8, 0.5


def main() -> None:
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rng = random.Random(1)
    env = simpy.Environment()
    stations = [simpy.Resource(env, capacity=SERVERS) for _ in range(STATIONS)]
    visits = 0

    def customer():
        nonlocal visits
        for station in stations:
            with station.request() as req:
                yield req
                yield env.timeout(rng.expovariate(MU))
            visits += 1

    def source():
        for _ in range(customers):
            env.process(customer())
            yield env.timeout(rng.expovariate(LAMBDA))

    env.process(source())
    start = time.process_time()
    env.run()
    cpu = time.process_time() - start
    print(f"simpy: {visits} visits in {cpu:.3f} s CPU: {visits / cpu / 1e6:.3f} M visits/CPU s")


if __name__ == "__main__":
    main()
