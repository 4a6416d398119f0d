"""asyncio: the same round trip through two asyncio.Queue(1) between two
tasks. Prints pipe_roundtrip_ns."""
import asyncio
import time

from _common import report, setup

N = setup(100_000)


async def echo(a, b):
    while True:
        v = await a.get()
        if v is None:
            return
        await b.put(v)


async def loop(a, b, n):
    for i in range(n):
        await a.put(i + 1)
        await b.get()


async def main():
    a, b = asyncio.Queue(1), asyncio.Queue(1)
    t = asyncio.create_task(echo(a, b))
    await loop(a, b, N // 10)
    t0 = time.perf_counter_ns()
    await loop(a, b, N)
    report("pipe_roundtrip_ns", t0, N)
    await a.put(None)
    await t


asyncio.run(main())
