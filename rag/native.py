"""Can the installed llama.cpp build run on this CPU? Asked once, in a child process.

llama-cpp-python compiles llama.cpp for the instruction sets its build flags name. Run on a
CPU that lacks one of them (an AVX-512 build on an AVX2-only AMD EPYC, say), the first matrix
product kills the whole process with SIGILL: no exception, no message. So before a GGUF is
loaded in process, `llama_problem` loads it in a child process that first prints the CPU
features the build was compiled for, then evaluates one token. When the child dies of a
signal, the problem is named in one line: the compiled features this CPU lacks and the
command that rebuilds llama.cpp here. The verdict is cached in a small JSON file, keyed by the
library files, the model file and the CPU, so the child runs once per machine and build.

Example:
    >>> llama_problem("/models/smollm2.gguf")  # doctest: +SKIP
    'llama.cpp in this environment was built for AVX512, which this CPU (AMD EPYC 7B13) lacks; ...'
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

REBUILD_COMMAND = "make llm"
CACHE_NAME = "llama-cpu-check.json"
# Loading a 135M-parameter GGUF and evaluating one token takes about a second; a
# multi-gigabyte model read from a slow disk can take a minute.
PROBE_TIMEOUT_S = 300.0

# llama.cpp's names for the x86 features it was compiled for -> their /proc/cpuinfo flags.
CPU_FLAG_OF_FEATURE = {
    "SSE3": "pni", "SSSE3": "ssse3", "AVX": "avx", "AVX_VNNI": "avx_vnni", "AVX2": "avx2",
    "F16C": "f16c", "FMA": "fma", "BMI2": "bmi2", "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi", "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}

# What the child runs: the build's features on the first line, then one token of the model.
_PROBE = """\
import sys, llama_cpp
print(llama_cpp.llama_print_system_info().decode(errors="replace"), flush=True)
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=64, n_threads=1, verbose=False)
llm.create_completion("Hello", max_tokens=1)
print("ok", flush=True)
"""


def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, frozenset[str]]:
    """This CPU's model name and feature flags, as Linux reports them (empty elsewhere)."""
    name, flags = "unknown CPU", frozenset()
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return name, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and name == "unknown CPU":
            name = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = frozenset(value.split())
    return name, flags


def compiled_features(system_info: str) -> list[str]:
    """The x86 features named in `llama_print_system_info()`, e.g. ["AVX", "AVX2", ...]."""
    features = []
    for part in system_info.replace("\n", "|").split("|"):
        name, _, value = part.rpartition(":")[2].partition("=")
        if name.strip() in CPU_FLAG_OF_FEATURE and value.strip() == "1":
            features.append(name.strip())
    return features


def missing_features(system_info: str, cpu_flags: frozenset[str]) -> list[str]:
    """Features the build was compiled for that this CPU does not have."""
    return [f for f in compiled_features(system_info) if CPU_FLAG_OF_FEATURE[f] not in cpu_flags]


def explain_crash(returncode: int, system_info: str, cpu: tuple[str, frozenset[str]],
                  model: str) -> str | None:
    """The one-line problem for a child that ended with `returncode`, or None if it did not
    die of a signal (a bad model file is reported in process, with its own message)."""
    if returncode >= 0:
        return None
    try:
        signal_name = signal.Signals(-returncode).name
    except ValueError:
        signal_name = f"signal {-returncode}"
    name, flags = cpu
    missing = missing_features(system_info, flags) if flags else []
    if missing:
        return (f"llama.cpp in this environment was built for {', '.join(missing)}, which this "
                f"CPU ({name}) lacks ({signal_name}); rebuild it for this machine: "
                f"{REBUILD_COMMAND}")
    return (f"llama.cpp crashed with {signal_name} running {model} on this CPU ({name}); if "
            f"it was built on another machine, rebuild it here: {REBUILD_COMMAND}")


def llama_problem(model: str | Path, *, cache_dir: Path | None = None) -> str | None:
    """None when llama.cpp can run `model` on this CPU, else one line saying why not and what
    to run. The first call per build, model and CPU runs a child process; later calls read
    the cached verdict."""
    model = str(Path(model).resolve())
    cpu = cpu_info()
    cache_file = (cache_dir or _cache_dir()) / CACHE_NAME
    key = _cache_key(model, cpu)
    verdicts = _read_json(cache_file)
    if key in verdicts:
        return verdicts[key]
    log.info("checking once, in a child process, that llama.cpp runs on this CPU")
    try:
        child = subprocess.run([sys.executable, "-c", _PROBE, model], capture_output=True,
                               text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None  # slow, not broken: the load in process will tell
    system_info = child.stdout.partition("\n")[0]
    problem = explain_crash(child.returncode, system_info, cpu, model)
    if problem is None and child.returncode != 0:
        log.debug("llama.cpp probe failed without a crash: %s", child.stderr[-500:])
        return None  # not a verdict on the CPU: not cached
    verdicts[key] = problem
    _write_json(cache_file, verdicts)
    return problem


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "newscite"


def _cache_key(model: str, cpu: tuple[str, frozenset[str]]) -> str:
    """Changes when the llama.cpp libraries, the model file or the CPU change."""
    parts = [model, _stat(Path(model)), cpu[0], " ".join(sorted(cpu[1]))]
    spec = importlib.util.find_spec("llama_cpp")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        parts += [f"{p}:{_stat(p)}" for p in sorted(Path(folder).glob("lib/*.so*"))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _stat(path: Path) -> str:
    try:
        info = path.stat()
    except OSError:
        return "missing"
    return f"{info.st_size}:{info.st_mtime_ns}"


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict) -> None:
    """Atomic: a reader sees the old file or the new one, never half of one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home: the check runs again next time
        log.warning("cannot cache the llama.cpp CPU check in %s: %s", path, exc)
