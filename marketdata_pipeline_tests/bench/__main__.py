"""Run every benchmark in one process, so their ratios are measured side by side."""

import importlib
import pkgutil
import sys
import time

import marketdata_pipeline_tests.bench as bench_package


def main(selected: list[str]) -> int:
    names = sorted(
        name for _, name, _ in pkgutil.iter_modules(bench_package.__path__) if name.startswith("bench_")
    )
    if selected:
        names = [name for name in names if any(s in name for s in selected)]
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"{bench_package.__name__}.{name}").run()
        print(f"({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
