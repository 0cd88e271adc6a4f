"""GPU utilisation while a benchmark phase runs, sampled by nvidia-smi every 200 ms."""

from __future__ import annotations

import subprocess
from collections import defaultdict


class GpuSampler:
    """`with GpuSampler() as gpus: ...` then `gpus.mean_utilisation()`: {GPU index: mean % busy}."""

    def __init__(self, interval_ms: int = 200) -> None:
        self.command = ["nvidia-smi", "--query-gpu=index,utilization.gpu", "--format=csv,noheader,nounits",
                        f"-lms={interval_ms}"]  # fmt: skip
        self.output = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> GpuSampler:
        self._process = subprocess.Popen(self.command, stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *_: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self.output, _ = self._process.communicate(timeout=10)

    def mean_utilisation(self) -> dict[int, float]:
        samples: dict[int, list[float]] = defaultdict(list)
        for line in self.output.splitlines():
            index, _, busy = line.partition(",")
            if busy.strip().isdigit():
                samples[int(index)].append(float(busy))
        return {index: round(sum(values) / len(values), 1) for index, values in sorted(samples.items())}
