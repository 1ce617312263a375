"""A multi-step cached run, used by test_cache.py as a subprocess that gets killed midway."""
import sys
import time

import numpy as np

from slmlib.cache import StageCache


def main(root: str, log_path: str, n_steps: int, pause: float) -> None:
    cache = StageCache(root)
    for i in range(n_steps):
        def compute(folder, i=i):
            with open(log_path, "a") as log:
                log.write(f"{i}\n")
            x = np.random.default_rng(i).normal(size=1000)
            time.sleep(pause)
            np.save(folder / "x.npy", x)
            return {"i": i, "mean": float(x.mean())}
        cache.run("toy_step", {"i": i}, compute)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
