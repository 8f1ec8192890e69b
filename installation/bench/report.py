"""The benchmark's figures as a table a technician can read."""
from __future__ import annotations

# Latency rows in flow order; "drawn" is the whole way, capture to first draw.
_STAGES = ("capture", "pose", "hands", "face", "identity", "mapping", "drawn")
_LABELS = {"drawn": "end to end"}


def _cell(value, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def _ratio(plain, pipeline, higher_is_better: bool = True) -> str:
    if not plain or not pipeline:
        return ""
    ratio = pipeline / plain if higher_is_better else plain / pipeline
    return f"{ratio:.2f}x"


def rows(results: dict[str, dict]) -> list[tuple[str, str, str, str]]:
    """(what, plain, pipeline, pipeline's gain) for every figure measured."""
    plain, pipeline = results.get("plain", {}), results.get("pipeline", {})
    out = []

    def add(label, key, fmt="{:.1f}", higher_is_better=True):
        a, b = plain.get(key), pipeline.get(key)
        out.append((label, _cell(a, fmt), _cell(b, fmt), _ratio(a, b, higher_is_better)))

    add("tracking fps", "tracking_fps")
    add("render fps", "render_fps")
    stages = [s for s in _STAGES if any(s in r.get("latency_ms", {}) for r in results.values())]
    for stage in stages:
        for stat in ("median", "p95"):
            a = plain.get("latency_ms", {}).get(stage, {}).get(stat)
            b = pipeline.get("latency_ms", {}).get(stage, {}).get(stat)
            label = f"{_LABELS.get(stage, stage)} ms {stat}"
            gain = _ratio(a, b, higher_is_better=False) if stage == "drawn" else ""
            out.append((label, _cell(a), _cell(b), gain))
    add("CPU (cores busy)", "cpu_cores", "{:.2f}", higher_is_better=False)
    # Our pose tracker's own model calls: how much of that CPU each kind takes.
    counted = (("  pose detector (cores)", "model_cores", "detector_seconds", "{:.3f}"),
               ("  detector calls/s", "model_calls_per_second", "detector_calls", "{:.1f}"),
               ("  pose landmarks (cores)", "model_cores", "landmark_seconds", "{:.3f}"))
    for label, group, name, fmt in counted:
        a, b = (r.get(group, {}).get(name) for r in (plain, pipeline))
        if a is not None or b is not None:
            out.append((label, _cell(a, fmt), _cell(b, fmt), ""))
    # Where the CPU goes, by thread (MainThread draws; the pool runs the models).
    names = {n for r in (plain, pipeline) for n in r.get("cores_by_thread", {})}
    for name in sorted(names, key=lambda n: (n == "other", n)):
        a, b = (r.get("cores_by_thread", {}).get(name) for r in (plain, pipeline))
        out.append((f"  thread {name} (cores)", _cell(a, "{:.2f}"), _cell(b, "{:.2f}"), ""))
    add("peak memory MB", "peak_memory_mb", "{:.0f}", higher_is_better=False)
    add("memory growth MB/h", "memory_growth_mb_per_hour", "{:+.1f}")
    out[-1] = out[-1][:3] + ("",)
    return out


def table(results: dict[str, dict]) -> str:
    """The rows under a header; the first column as wide as its longest label
    (a thread's whole name), 24 characters at least."""
    body = rows(results)
    width = max([24, *(len(label) for label, *_ in body)])
    lines = [f"{'':{width}} {'plain loop':>12} {'pipeline':>12} {'gain':>8}"]
    lines += [f"{label:{width}} {a:>12} {b:>12} {gain:>8}" for label, a, b, gain in body]
    return "\n".join(lines)
