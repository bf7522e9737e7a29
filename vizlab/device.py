"""Pick the device to compute on, and find the device a model lives on."""
from __future__ import annotations

import os
import threading

import torch
from torch import nn

_ALLOWED = ("auto", "cuda", "mps", "cpu")


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Return a torch device: CUDA when present, then Apple MPS, then CPU.

    Args:
        device: ``None`` or ``"auto"`` picks the best available device; a string such as ``"cpu"``,
            ``"cuda:1"`` or a ``torch.device`` is checked and returned.

    Example:
        >>> get_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, torch.device):
        dev = device
    elif device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    elif isinstance(device, str):
        try:
            dev = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(f"device={device!r} is not a device; use one of {_ALLOWED} or e.g. 'cuda:0'") from exc
    else:
        raise TypeError(f"device must be None, a string or a torch.device, got {type(device).__name__}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for, but CUDA is not available here; use 'auto' or 'cpu'")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device={device!r} was asked for, but Apple MPS is not available here; use 'auto' or 'cpu'")
    return dev


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's first parameter (or buffer); CPU for a model with neither."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def describe_device(device: torch.device) -> str:
    """A one-line human description, e.g. ``'cuda (NVIDIA H100)'`` or ``'cpu (2 threads)'``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return f"cpu ({threads} thread{'' if threads == 1 else 's'})"
    return device.type


def scaled(cpu_value, gpu_value, device: torch.device | str | None = None):
    """Pick a setting by device: the small CPU value, or the larger one when computing on a GPU.

    Notebooks use it for image sizes and step counts so that they stay quick on a laptop CPU.
    """
    dev = get_device(device)
    return cpu_value if dev.type == "cpu" else gpu_value


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def set_threads(threads: int | str = "auto") -> int:
    """Set how many CPU threads torch uses for one operation; returns the number set.

    Args:
        threads: a positive int, or ``"auto"``: the CPUs this process may use, less the load that other
            processes put on them (from the 1-minute load average), at least 1. On an idle laptop that is every
            core; on a shared or busy machine fewer threads finish sooner, because a thread that waits for a
            busy core stalls every operation it is part of.

    Busy-waiting OpenMP threads are the larger cost on a busy machine (measured in ``benchmarks/README.md``,
    "Threads on a busy machine"). The wait policy is read when torch starts, so it cannot be set here: start
    Python with ``OMP_WAIT_POLICY=PASSIVE`` in the environment (``python3 go.py lab`` and ``go.py test`` do).

    Example:
        >>> set_threads(1)
        1
    """
    if threads == "auto":
        cpus = available_cpus()
        try:
            others = os.getloadavg()[0]  # this process is idle while it decides, so the load is the others
        except (AttributeError, OSError):
            others = 0.0
        n = max(1, min(cpus, int(cpus - others + 0.5)))
    elif isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError(f"threads must be a positive int or 'auto', got {type(threads).__name__} {threads!r}")
    elif threads < 1:
        raise ValueError(f"threads must be a positive int or 'auto', got {threads}")
    else:
        n = threads
    torch.set_num_threads(n)
    return torch.get_num_threads()


#: :class:`one_thread_pool`'s process-wide state: how many are active, and torch's thread count before the first.
_ONE_THREAD = {"users": 0, "count": None}
_ONE_THREAD_LOCK = threading.Lock()


def _set_default_threads(count: int) -> None:
    """Set torch's default thread count (the one threads take when they start) without changing the calling
    thread's: ``torch.set_num_threads`` sets both, so it runs on a short-lived thread of its own."""
    worker = threading.Thread(target=torch.set_num_threads, args=(count,), name="vizlab-threads")
    worker.start()
    worker.join()


def _one_thread_worker(count: int) -> None:
    # torch gives a thread the default count when it first asks for its count (then never again): ask first, so
    # that the default put back below cannot reach this worker (it would run its kernels on 2 threads)
    torch.get_num_threads()
    torch.set_num_threads(1)        # this worker's count ...
    _set_default_threads(count)     # ... and not the default of threads that start later


class one_thread_pool:
    """Context manager: a thread pool of ``workers`` threads for work that runs side by side, each thread at one
    torch intra-op thread, and the thread that enters it at one thread too (the cores belong to the workers: an
    OpenMP team waiting for a core that a worker holds spins). The one helper for this (the concurrent ensemble
    of :meth:`vizlab.optimize.Ensemble.concurrent` and the parallel occlusion sweep use it).

    ``torch.set_num_threads`` changes the calling thread's count and the default that threads take when they
    start. So several of these may overlap, in one thread or several (two class images at once, a widget's job
    thread): the first one in records torch's count, and while any is active, threads that start take that
    count, not 1; each one gives its entering thread back the count it had, and the last one out also torch's
    default. Entered with ``workers=0`` it makes no pool (``None``) and only runs the entering thread at one
    thread.

    Example:
        >>> with one_thread_pool(2, "demo") as pool:
        ...     list(pool.map(lambda k: torch.get_num_threads(), range(2)))
        [1, 1]
    """

    def __init__(self, workers: int, name: str = "vizlab-worker"):
        self.workers, self.name = workers, name
        self.pool = None
        self._own: int | None = None
        self._count: int | None = None

    def __enter__(self):
        from concurrent.futures import ThreadPoolExecutor

        with _ONE_THREAD_LOCK:
            if _ONE_THREAD["users"] == 0:
                _ONE_THREAD["count"] = torch.get_num_threads()
            _ONE_THREAD["users"] += 1
            self._own, self._count = torch.get_num_threads(), _ONE_THREAD["count"]
            torch.set_num_threads(1)
            _set_default_threads(self._count)   # threads that start meanwhile: torch's count
        try:
            if self.workers > 0:
                self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self.name,
                                               initializer=_one_thread_worker, initargs=(self._count,))
        except BaseException:
            self.__exit__()
            raise
        return self.pool

    def __exit__(self, *exc):
        pool, self.pool = self.pool, None
        try:
            if pool is not None:
                pool.shutdown(wait=True)
        finally:
            with _ONE_THREAD_LOCK:
                _ONE_THREAD["users"] -= 1
                count = _ONE_THREAD["count"]
                if _ONE_THREAD["users"] == 0:
                    _ONE_THREAD["count"] = None
                torch.set_num_threads(self._own if self._own is not None else count)
                if self._own != count:
                    _set_default_threads(count)
        return False
