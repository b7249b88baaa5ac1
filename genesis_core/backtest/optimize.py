"""Parameter search (grid and random) and walk-forward analysis over any evaluation function.

Nothing here knows about strategies or configs: a candidate is a ``{dotted.path: value}`` dict,
an evaluation is a picklable callable returning ``{metric: number}``. :class:`ParamSpace`
builds candidates from a YAML-shaped mapping; :func:`search` evaluates them in parallel
processes and ranks them; :func:`walk_forward` repeats the search on rolling (or anchored)
training windows and scores the winner on the window that follows. See ``docs/research.md``.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import math
import multiprocessing
import os
import pickle
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TextIO

import attrs
import numpy as np

from genesis_core.errors import ConfigError, GenesisError


Params = dict[str, Any]
MetricsMap = Mapping[str, float]
Objective = str | Callable[[MetricsMap], float]
Progress = bool | Literal["always"]

KINDS = ("range", "values", "uniform", "log_uniform", "int_uniform")
GRID_LIMIT = 1_000_000
# Not 'fork': it copies the parent's threads' state (numba's thread pool, once a parallel
# kernel has run) into the children. 'forkserver' forks workers from a clean single-threaded
# server that outlives the pool; measured on 2 cores, a 2-worker pool returned its first
# results after 0.6 s (forkserver) vs 0.7-0.95 s (spawn). Spawn where there is no
# forkserver (Windows).
MP_CONTEXT = ("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
              else "spawn")


# --------------------------------------------------------------------------- parameter space


def _number(value: Any) -> Decimal | None:
    """A finite number (int, float, Decimal or numeric string) as an exact Decimal, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        d = Decimal(value.strip()) if isinstance(value, str) else Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _kind_of(values: Sequence[Any]) -> type:
    """Output type of generated numbers: int if all ints, Decimal if any string, else float."""
    if any(isinstance(v, str | Decimal) for v in values):
        return Decimal
    if all(isinstance(v, int) for v in values):
        return int
    return float


def _cast(value: Decimal, kind: type) -> Any:
    if kind is int:
        return int(value)
    return value if kind is Decimal else float(value)


@attrs.frozen
class Dimension:
    """One searched parameter: ``values`` when discrete, else a continuous ``low``..``high``."""

    key: str
    kind: str
    values: tuple[Any, ...] = ()
    low: float = math.nan
    high: float = math.nan
    decimal: bool = False

    @property
    def discrete(self) -> bool:
        return self.kind in ("range", "values")

    def draw(self, rng: np.random.Generator) -> Any:
        """One random value (uniform over the values of a discrete dimension)."""
        if self.discrete:
            return self.values[int(rng.integers(len(self.values)))]
        if self.kind == "int_uniform":
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.kind == "log_uniform":
            x = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            x = rng.uniform(self.low, self.high)
        x = min(max(x, self.low), self.high)
        # 12 significant digits: readable, and exact when parsed back into a Decimal config field
        return Decimal(f"{x:.12g}") if self.decimal else x


def _parse_range(where: str, spec: Any, errors: list[str]) -> tuple[Any, ...]:
    if not isinstance(spec, list | tuple) or len(spec) not in (2, 3):
        errors.append(f"{where}: range must be [start, stop] or [start, stop, step]")
        return ()
    nums = [_number(v) for v in spec]
    if any(d is None for d in nums):
        errors.append(f"{where}: range values must be numbers, got {list(spec)!r}")
        return ()
    kind = _kind_of(spec)
    if len(spec) == 2 and kind is not int:
        errors.append(f"{where}: a decimal range needs a step: [start, stop, step]")
        return ()
    start, stop, step = (*nums, Decimal(1))[:3]
    if step <= 0:
        errors.append(f"{where}: range step must be > 0, got {spec[2]!r}")
        return ()
    if stop < start:
        errors.append(f"{where}: range stop {spec[1]!r} is below its start {spec[0]!r}")
        return ()
    count = int((stop - start) // step) + 1
    if count > GRID_LIMIT:
        errors.append(f"{where}: range has {count} values (limit {GRID_LIMIT})")
        return ()
    return tuple(_cast(start + i * step, kind) for i in range(count))


def _parse_bounds(where: str, key: str, kind: str, spec: Any,
                  errors: list[str]) -> Dimension | None:
    if not isinstance(spec, list | tuple) or len(spec) != 2:
        errors.append(f"{where}: {kind} must be [low, high]")
        return None
    lo, hi = (_number(v) for v in spec)
    if lo is None or hi is None:
        errors.append(f"{where}: {kind} bounds must be numbers, got {list(spec)!r}")
        return None
    if kind == "int_uniform" and _kind_of(spec) is not int:
        errors.append(f"{where}: int_uniform bounds must be integers, got {list(spec)!r}")
        return None
    if hi < lo or (hi == lo and kind != "int_uniform"):
        errors.append(f"{where}: {kind} low {spec[0]!r} must be below high {spec[1]!r}")
        return None
    if kind == "log_uniform" and lo <= 0:
        errors.append(f"{where}: log_uniform bounds must be > 0, got {spec[0]!r}")
        return None
    return Dimension(key, kind, low=float(lo), high=float(hi),
                     decimal=_kind_of(spec) is Decimal and kind != "int_uniform")


def _parse_dimension(where: str, key: str, spec: Any, errors: list[str]) -> Dimension | None:
    if isinstance(spec, list | tuple):  # shorthand: a bare list is `values`
        spec = {"values": spec}
    elif not isinstance(spec, Mapping):  # a bare scalar pins the parameter
        spec = {"values": [spec]}
    kinds = [k for k in spec if k in KINDS]
    if len(kinds) != 1 or len(spec) != 1:
        errors.append(f"{where}: expected exactly one of {', '.join(KINDS)}, "
                      f"got {', '.join(map(str, spec)) or 'nothing'}")
        return None
    kind = kinds[0]
    body = spec[kind]
    if kind == "values":
        if not isinstance(body, list | tuple) or not body:
            errors.append(f"{where}: values must be a non-empty list")
            return None
        return Dimension(key, kind, values=tuple(body))
    if kind == "range":
        values = _parse_range(where, body, errors)
        return Dimension(key, kind, values=values) if values else None
    return _parse_bounds(where, key, kind, body, errors)


@attrs.frozen
class ParamSpace:
    """The parameters to search, each a discrete set (``range``, ``values``) or a continuous
    distribution (``uniform``, ``log_uniform``, ``int_uniform``; random search only).

    Build it with :meth:`from_mapping`. Candidates are ``{dotted.path: value}`` dicts in the
    mapping's key order.
    """

    dimensions: tuple[Dimension, ...]
    where: str = "params"

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], *, where: str = "params") -> ParamSpace:
        """Parse ``{path: spec}``; ``where`` prefixes error messages (the YAML location).

        spec: ``{"range": [start, stop, step]}`` (inclusive; step defaults to 1 for ints),
        ``{"values": [...]}`` (or a bare list), a bare scalar (fixed),
        ``{"uniform" | "log_uniform" | "int_uniform": [low, high]}``. Numbers given as strings
        come out as exact ``Decimal``. Raises :class:`ConfigError` listing every problem.
        """
        if not isinstance(mapping, Mapping) or not mapping:
            raise ConfigError([f"{where}: expected a mapping of parameter paths to specs"])
        errors: list[str] = []
        dims = []
        for key, spec in mapping.items():
            if not isinstance(key, str) or not all(key.split(".")):
                errors.append(f"{where}: parameter path {key!r} must be a dotted name like "
                              "'strategies.ema_rsi.fast'")
                continue
            dim = _parse_dimension(f"{where}.{key}", key, spec, errors)
            if dim is not None:
                dims.append(dim)
        if errors:
            raise ConfigError(errors)
        return cls(tuple(dims), where)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(d.key for d in self.dimensions)

    @property
    def size(self) -> int | None:
        """Number of grid points; None when a dimension is continuous."""
        if not all(d.discrete for d in self.dimensions):
            return None
        return math.prod(len(d.values) for d in self.dimensions)

    def grid(self, *, limit: int = GRID_LIMIT) -> list[Params]:
        """Every combination (the last key varies fastest)."""
        for d in self.dimensions:
            if not d.discrete:
                raise ConfigError([f"{self.where}.{d.key}: {d.kind} has no grid; "
                                   "use random search (samples) or range/values"])
        size = self.size or 0
        if size > limit:
            raise ConfigError([f"{self.where}: the grid has {size} combinations "
                               f"(limit {limit}); narrow it or use random search"])
        return [dict(zip(self.keys, combo, strict=True))
                for combo in itertools.product(*(d.values for d in self.dimensions))]

    def sample(self, n: int, seed: int = 0) -> list[Params]:
        """``n`` random candidates, reproducible for a seed.

        A fully discrete space is sampled without replacement (at most :attr:`size` distinct
        candidates); otherwise every dimension is drawn independently.
        """
        if n < 0:
            raise ConfigError([f"{self.where}: samples must be >= 0, got {n}"])
        rng = np.random.default_rng(seed)
        size = self.size
        if size is None or size >= 2**62:  # continuous, or too large to index: independent
            return [{d.key: d.draw(rng) for d in self.dimensions} for _ in range(n)]
        lengths = [len(d.values) for d in self.dimensions]
        out = []
        for flat in rng.choice(size, size=min(n, size), replace=False):
            flat = int(flat)
            combo = []
            for length in reversed(lengths):  # last key varies fastest, as in grid()
                flat, i = divmod(flat, length)
                combo.append(i)
            out.append({d.key: d.values[i]
                        for d, i in zip(self.dimensions, reversed(combo), strict=True)})
        return out

    def candidates(self, method: Literal["grid", "random"] = "grid", *,
                   samples: int | None = None, seed: int = 0) -> list[Params]:
        """The full :meth:`grid`, or ``samples`` random draws (:meth:`sample`)."""
        # errors name the sibling keys of the params mapping (backtest.optimize.method, …)
        section = self.where.removesuffix(".params") if "." in self.where else "optimize"
        if method == "grid":
            return self.grid()
        if method != "random":
            raise ConfigError([f"{section}.method: expected 'grid' or 'random', "
                               f"got {method!r}"])
        if isinstance(samples, bool) or not isinstance(samples, int) or samples <= 0:
            raise ConfigError([f"{section}.samples: random search needs a positive number "
                               f"of samples, got {samples!r}"])
        return self.sample(samples, seed)


# --------------------------------------------------------------------------- objective


def _scorer(objective: Objective) -> tuple[str, Callable[[MetricsMap], float], str | None]:
    """(display name, metrics → score to maximise, metric name it needs or None)."""
    if callable(objective):
        return getattr(objective, "__name__", "objective"), objective, None
    if not isinstance(objective, str) or not objective.lstrip("+-"):
        raise ConfigError([f"objective: expected a metric name like 'sharpe' or "
                           f"'-max_drawdown', got {objective!r}"])
    sign = -1.0 if objective.startswith("-") else 1.0
    metric = objective.lstrip("+-")

    def score(metrics: MetricsMap) -> float:
        return sign * float(metrics.get(metric, math.nan))

    return objective, score, metric


def _apply(score: Callable[[MetricsMap], float], metrics: MetricsMap | None) -> float:
    if metrics is None:
        return math.nan
    try:
        return float(score(metrics))
    except Exception:  # a callable objective failing on odd metrics ranks the candidate last
        return math.nan


def _rank_key(score: float, index: int) -> tuple[bool, float, int]:
    return (math.isnan(score), 0.0 if math.isnan(score) else -score, index)


# --------------------------------------------------------------------------- evaluation pool

_WORKER_FN: Callable[..., MetricsMap] | None = None


def _init_worker(fn: Callable[..., MetricsMap]) -> None:
    global _WORKER_FN
    _WORKER_FN = fn
    # Parallelism is across processes: a numba parallel kernel inside an evaluation would
    # otherwise start one thread per core in every worker and oversubscribe the machine.
    if "numba" in sys.modules:
        sys.modules["numba"].set_num_threads(1)
    else:
        os.environ["NUMBA_NUM_THREADS"] = "1"


def _clean(metrics: Any) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise TypeError(f"evaluate returned {type(metrics).__name__}, expected a mapping "
                        "of metric names to numbers")
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if isinstance(value, bool | np.bool_) or not isinstance(
                value, int | float | np.integer | np.floating):
            raise TypeError(f"metric {name!r} is {type(value).__name__}, not a number")
        out[str(name)] = int(value) if isinstance(value, int | np.integer) else float(value)
    return out


Outcome = tuple[dict[str, float] | None, str | None, float]


def _call(fn: Callable[..., MetricsMap], params: Params, args: tuple[Any, ...]) -> Outcome:
    t0 = time.perf_counter()
    try:
        return _clean(fn(params, *args)), None, time.perf_counter() - t0
    except Exception as exc:  # one bad candidate must not end the search
        return None, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0


def _run_chunk(tasks: list[tuple[Params, tuple[Any, ...]]]) -> list[Outcome]:
    assert _WORKER_FN is not None
    return [_call(_WORKER_FN, params, args) for params, args in tasks]


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Bar:
    """A one-line progress bar redrawn with ``\\r`` at most 10 times a second."""

    def __init__(self, label: str, total: int, progress: Progress, stream: TextIO | None):
        self.stream = sys.stderr if stream is None else stream
        tty = getattr(self.stream, "isatty", lambda: False)()
        self.on = progress == "always" or (progress is True and tty)
        self.label, self.total, self.done, self.errors = label, total, 0, 0
        self.t0 = self.last = time.perf_counter()
        self._draw()

    def advance(self, outcomes: Sequence[Outcome]) -> None:
        self.done += len(outcomes)
        self.errors += sum(o[1] is not None for o in outcomes)
        now = time.perf_counter()
        if now - self.last >= 0.1 or self.done == self.total:
            self.last = now
            self._draw()

    def close(self) -> None:
        if self.on:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        if not self.on:
            return
        frac = self.done / self.total if self.total else 1.0
        elapsed = time.perf_counter() - self.t0
        eta = f"{elapsed / frac - elapsed:.1f} s" if frac > 0 else "?"
        fill = int(frac * 24)
        errors = f"  {self.errors} errors" if self.errors else ""
        self.stream.write(f"\r{self.label} [{'#' * fill}{'.' * (24 - fill)}] "
                          f"{self.done}/{self.total} {frac:4.0%}  {elapsed:.1f} s"
                          f"  eta {eta}{errors}   ")
        self.stream.flush()


class _Pool:
    """Runs ``fn(params, *args)`` tasks in-process (workers <= 1) or in worker processes.

    The callable is sent once per worker (initializer) rather than with every task, so an
    evaluator holding data is pickled once per process, not once per candidate.
    """

    def __init__(self, fn: Callable[..., MetricsMap], workers: int | None, tasks_hint: int):
        self.fn = fn
        wanted = _available_cpus() if workers is None else int(workers)
        self.workers = max(1, min(wanted, tasks_hint))
        self.executor: cf.ProcessPoolExecutor | None = None
        if self.workers > 1:
            try:
                pickle.dumps(fn)
            except Exception as exc:  # a lambda or closure: say so before starting processes
                raise GenesisError(
                    f"the evaluation function must be picklable to run in {self.workers} "
                    f"worker processes (a module-level function or an instance of a "
                    f"module-level class), or pass workers=1: {exc}") from exc
            self.executor = cf.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context(MP_CONTEXT),
                initializer=_init_worker, initargs=(fn,))

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)

    def run(self, tasks: list[tuple[Params, tuple[Any, ...]]], label: str,
            progress: Progress, stream: TextIO | None) -> list[Outcome]:
        bar = _Bar(label, len(tasks), progress, stream)
        try:
            if self.executor is None:
                out = []
                for params, args in tasks:
                    out.append(_call(self.fn, params, args))
                    bar.advance(out[-1:])
                return out
            return self._parallel(tasks, bar)
        finally:
            bar.close()

    def _parallel(self, tasks: list[tuple[Params, tuple[Any, ...]]], bar: _Bar) -> list[Outcome]:
        assert self.executor is not None
        # Chunks amortise the ~0.1 ms inter-process round trip of cheap evaluations while
        # leaving ~16 chunks per worker for load balancing and progress updates.
        size = max(1, min(64, len(tasks) // (self.workers * 16)))
        starts = range(0, len(tasks), size)
        futures = {self.executor.submit(_run_chunk, tasks[s:s + size]): s for s in starts}
        out: list[Outcome | None] = [None] * len(tasks)
        for future in cf.as_completed(futures):
            s = futures[future]
            n = len(tasks[s:s + size])
            try:
                chunk = future.result()
            except Exception as exc:  # a worker died (or the result failed to pickle)
                chunk = [(None, f"{type(exc).__name__}: {exc}", 0.0)] * n
            out[s:s + n] = chunk
            bar.advance(chunk)
        return [o for o in out if o is not None]


# --------------------------------------------------------------------------- search


@attrs.frozen
class Evaluation:
    """One evaluated candidate. ``score`` is the objective as ranked (higher is better; a
    minimised metric is negated), NaN when it failed or the metric is missing/NaN."""

    index: int
    params: Params
    metrics: dict[str, float]
    score: float
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and not math.isnan(self.score)


@attrs.frozen
class SearchResult:
    """Every candidate, best first (NaN scores last; ties keep the candidates' order).

    ``seconds`` is the wall time of :func:`search`; for the per-window searches of
    :func:`walk_forward` (which share one batch) it is the summed evaluation time.
    """

    objective: str
    evaluations: tuple[Evaluation, ...]
    workers: int
    seconds: float

    def __len__(self) -> int:
        return len(self.evaluations)

    @property
    def best(self) -> Evaluation:
        """The top candidate; :class:`GenesisError` when no candidate has a score."""
        if not self.evaluations or math.isnan(self.evaluations[0].score):
            errors = self.errors
            first = f"; first error: {errors[0].error}" if errors else ""
            raise GenesisError(f"search: no candidate produced a {self.objective!r} score "
                               f"({len(errors)} of {len(self)} failed{first})")
        return self.evaluations[0]

    @property
    def errors(self) -> tuple[Evaluation, ...]:
        return tuple(e for e in self.evaluations if e.error is not None)

    def records(self) -> list[dict[str, Any]]:
        """One flat dict per candidate in rank order (params, metrics, score, error)."""
        return [{"rank": r + 1, **e.params, **e.metrics, "score": e.score, "error": e.error}
                for r, e in enumerate(self.evaluations)]

    def table(self, top: int = 10, columns: Sequence[str] | None = None) -> str:
        """The ``top`` candidates as aligned text (all metrics unless ``columns`` is given)."""
        shown = self.evaluations[:top]
        keys = list(dict.fromkeys(k for e in shown for k in e.params))
        cols = list(columns) if columns is not None else list(
            dict.fromkeys(k for e in shown for k in e.metrics))
        # a plain metric objective is its own column already; show the score otherwise
        plain = self.objective.lstrip("+") in cols
        head = ["rank", *keys, *([] if plain else [self.objective]), *cols]
        rows = []
        for r, e in enumerate(shown):
            cells = [str(r + 1), *(_fmt(e.params.get(k, "")) for k in keys),
                     *([] if plain else [_fmt(e.score)])]
            if e.error is None:
                cells += [_fmt(e.metrics.get(c, math.nan)) for c in cols]
            rows.append(cells)
        ok = sum(e.ok for e in self.evaluations)
        footer = (f"{len(self)} candidates, {ok} scored, {len(self.errors)} errors, "
                  f"{self.workers} workers, {self.seconds:.1f} s")
        return _render(head, rows, [e.error for e in shown]) + "\n" + footer


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        v = float(value) + 0.0  # no "-0"
        if not math.isfinite(v):
            return str(v)
        if v == 0 or 1e-3 <= abs(v) < 1e6:
            return f"{v:.4f}".rstrip("0").rstrip(".") if v != int(v) else f"{v:.0f}"
        return f"{v:.4g}"
    return str(value)


def _render(head: Sequence[str], rows: Sequence[Sequence[str]],
            notes: Sequence[str | None] | None = None) -> str:
    """Right-aligned columns; a row's note (an error) follows its cells as free text."""
    notes = list(notes) if notes is not None else [None] * len(rows)
    width = [max(len(c[k]) for c in [head, *rows] if k < len(c)) for k in range(len(head))]
    out = ["  ".join(c.rjust(w) for c, w in zip(head, width, strict=True))]
    for cells, note in zip(rows, notes, strict=True):
        text = "  ".join(c.rjust(w) for c, w in zip(cells, width, strict=False))
        out.append(f"{text}  {note}" if note else text)
    return "\n".join(out)


def _ranked(score: Callable[[MetricsMap], float], candidates: Sequence[Mapping[str, Any]],
            outcomes: Sequence[Outcome]) -> tuple[Evaluation, ...]:
    evals = [Evaluation(index=i, params=dict(p), metrics=m or {}, score=_apply(score, m),
                        error=err, seconds=sec)
             for i, (p, (m, err, sec)) in enumerate(zip(candidates, outcomes, strict=True))]
    return tuple(sorted(evals, key=lambda e: _rank_key(e.score, e.index)))


def _check_metric(metric: str | None, evals: Sequence[Evaluation]) -> None:
    """A metric no successful evaluation returns is a typo, not a bad candidate."""
    done = [e for e in evals if e.error is None]
    if metric is not None and done and not any(metric in e.metrics for e in done):
        names = ", ".join(sorted(done[0].metrics))
        raise ConfigError([f"objective: {metric!r} is not a metric of the evaluation "
                           f"(it returns {names})"])


def search(
    evaluate: Callable[[Params], MetricsMap],
    candidates: Sequence[Mapping[str, Any]],
    *,
    objective: Objective,
    workers: int | None = None,
    progress: Progress = True,
    stream: TextIO | None = None,
) -> SearchResult:
    """Evaluate every candidate and rank them by ``objective``.

    Args:
        evaluate: ``evaluate(params) -> {metric: number}``; must be picklable (a module-level
            function or an instance of a module-level class) when ``workers > 1``. An
            exception becomes that candidate's ``error``; the search goes on.
        candidates: parameter dicts, e.g. from :meth:`ParamSpace.grid` or ``.sample``.
        objective: a metric name to maximise, ``-name`` to minimise, or a callable
            ``metrics -> float`` to maximise. NaN ranks last; ties keep candidate order.
        workers: processes (default: the CPUs available); ``1`` evaluates in this process.
        progress: a progress bar on ``stream`` (default stderr) when it is a terminal;
            ``"always"`` draws it anyway, ``False`` never.
    """
    name, score, metric = _scorer(objective)
    cands = list(candidates)
    t0 = time.perf_counter()
    with _Pool(evaluate, workers, len(cands)) as pool:
        outcomes = pool.run([(dict(p), ()) for p in cands], "search", progress, stream)
    evals = _ranked(score, cands, outcomes)
    _check_metric(metric, evals)
    return SearchResult(objective=name, evaluations=evals, workers=pool.workers,
                        seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------- walk-forward


@attrs.frozen
class Window:
    """Bar index ranges, ``start`` inclusive and ``end`` exclusive; train always ends where
    test starts."""

    train_start: int
    train_end: int
    test_start: int
    test_end: int


def windows(n_bars: int, train_bars: int, test_bars: int, step_bars: int | None = None, *,
            anchored: bool = False, first_bar: int = 0) -> list[Window]:
    """Walk-forward windows over ``[first_bar, n_bars)``.

    Window k tests ``[s_k + train_bars, s_k + train_bars + test_bars)`` with
    ``s_k = first_bar + k * step_bars`` (``step_bars`` defaults to ``test_bars``: consecutive,
    non-overlapping test windows) and trains on the ``train_bars`` before it, or on everything
    from ``first_bar`` when ``anchored``. Only complete test windows are made.
    """
    step = test_bars if step_bars is None else step_bars
    errors = [f"walk_forward.{name}: must be a positive integer, got {value!r}"
              for name, value in (("train_bars", train_bars), ("test_bars", test_bars),
                                  ("step_bars", step))
              if isinstance(value, bool) or not isinstance(value, int) or value <= 0]
    if isinstance(first_bar, bool) or not isinstance(first_bar, int) or first_bar < 0:
        errors.append(f"walk_forward.first_bar: must be an integer >= 0, got {first_bar!r}")
    if errors:
        raise ConfigError(errors)
    out = []
    s = first_bar
    while s + train_bars + test_bars <= n_bars:
        test_start = s + train_bars
        out.append(Window(first_bar if anchored else s, test_start, test_start,
                          test_start + test_bars))
        s += step
    if not out:
        raise ConfigError([f"walk_forward: {n_bars - first_bar} bars hold no window of "
                           f"{train_bars} train + {test_bars} test bars"])
    return out


@attrs.frozen
class WindowResult:
    """One walk-forward window: the training search and the out-of-sample evaluation."""

    window: Window
    search: SearchResult
    params: Params | None  # the best on train; None when no candidate scored
    is_score: float
    is_metrics: dict[str, float]
    oos_score: float
    oos_metrics: dict[str, float]
    error: str | None = None

    @property
    def efficiency(self) -> float:
        """OOS objective / IS objective (1 = no degradation); NaN when IS is 0 or NaN."""
        return _div(self.oos_score, self.is_score)

    @property
    def degradation(self) -> float:
        """IS objective − OOS objective (positive: worse out of sample)."""
        return self.is_score - self.oos_score


def _div(a: float, b: float) -> float:
    return a / b if b != 0 and not math.isnan(b) else math.nan


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


@attrs.frozen
class WalkForwardResult:
    objective: str
    anchored: bool
    windows: tuple[WindowResult, ...]
    seconds: float

    @property
    def is_score(self) -> float:
        """Mean in-sample objective of the chosen parameters over the windows."""
        return _nanmean([w.is_score for w in self.windows])

    @property
    def oos_score(self) -> float:
        """Mean out-of-sample objective over the windows."""
        return _nanmean([w.oos_score for w in self.windows])

    @property
    def efficiency(self) -> float:
        """Mean OOS objective / mean IS objective (walk-forward efficiency)."""
        return _div(self.oos_score, self.is_score)

    @property
    def degradation(self) -> float:
        """Mean IS objective − mean OOS objective."""
        return self.is_score - self.oos_score

    @property
    def oos_mean(self) -> dict[str, float]:
        """Every out-of-sample metric averaged over the windows that returned it."""
        names = dict.fromkeys(k for w in self.windows for k in w.oos_metrics)
        return {k: _nanmean([float(w.oos_metrics[k]) for w in self.windows
                             if k in w.oos_metrics]) for k in names}

    @property
    def oos_total_return(self) -> float:
        """Π(1 + total_return) − 1 over the test windows: the return of trading them back to
        back. NaN when test windows overlap or a window has no ``total_return``."""
        ws = self.windows
        if any(b.window.test_start < a.window.test_end for a, b in itertools.pairwise(ws)):
            return math.nan
        prod = 1.0
        for w in ws:
            prod *= 1.0 + float(w.oos_metrics.get("total_return", math.nan))
        return prod - 1.0

    def params_counts(self) -> list[tuple[Params, int]]:
        """How often each parameter set won a window (stable winners are a good sign)."""
        counts: dict[str, tuple[Params, int]] = {}
        for w in self.windows:
            if w.params is not None:
                key = repr(sorted(w.params.items()))
                p, c = counts.get(key, (w.params, 0))
                counts[key] = (p, c + 1)
        return sorted(counts.values(), key=lambda pc: -pc[1])

    def table(self, columns: Sequence[str] = ("total_return", "max_drawdown", "trades")) -> str:
        """One row per window plus the aggregate figures, as aligned text."""
        cols = [c for c in columns if any(c in w.oos_metrics for w in self.windows)]
        head = ["#", "train", "test", "best params", f"IS {self.objective}",
                f"OOS {self.objective}", *(f"OOS {c}" for c in cols)]
        keys = dict.fromkeys(k for w in self.windows for k in (w.params or {}))
        short = {k: k.rsplit(".", 1)[-1] for k in keys}
        if len(set(short.values())) < len(short):  # two plugins share a parameter name
            short = {k: k for k in keys}
        rows = []
        for i, w in enumerate(self.windows):
            win = w.window
            params = " ".join(f"{short[k]}={_fmt(v)}"
                              for k, v in (w.params or {}).items()) or "-"
            rows.append([str(i + 1), f"{win.train_start}-{win.train_end}",
                         f"{win.test_start}-{win.test_end}", params, _fmt(w.is_score),
                         _fmt(w.oos_score),
                         *(_fmt(w.oos_metrics.get(c, math.nan)) for c in cols)])
        summary = (f"{len(self.windows)} windows ({'anchored' if self.anchored else 'rolling'})"
                   f"  mean IS {_fmt(self.is_score)}  mean OOS {_fmt(self.oos_score)}"
                   f"  efficiency {_fmt(self.efficiency)}  degradation {_fmt(self.degradation)}"
                   f"  OOS compounded return {_fmt(self.oos_total_return)}"
                   f"  {self.seconds:.1f} s")
        return _render(head, rows, [w.error for w in self.windows]) + "\n" + summary


def walk_forward(
    evaluate_window: Callable[[Params, int, int], MetricsMap],
    candidates: Sequence[Mapping[str, Any]],
    *,
    n_bars: int,
    train_bars: int,
    test_bars: int,
    step_bars: int | None = None,
    anchored: bool = False,
    first_bar: int = 0,
    objective: Objective,
    workers: int | None = None,
    progress: Progress = True,
    stream: TextIO | None = None,
) -> WalkForwardResult:
    """Optimise on each training window, then evaluate the winner on the test window after it.

    ``evaluate_window(params, start, end)`` scores ``params`` on bars ``[start, end)``. It may
    read bars before ``start`` (indicator warm-up: that is the past) but never bars at or after
    ``end``; under that contract no test bar can influence the choice of parameters, because
    every training call ends at its window's ``test_start``. Windows: :func:`windows`. All
    training searches run as one parallel batch, then all test evaluations.
    """
    name, score, metric = _scorer(objective)
    wins = windows(n_bars, train_bars, test_bars, step_bars, anchored=anchored,
                   first_bar=first_bar)
    cands = [dict(p) for p in candidates]
    if not cands:
        raise ConfigError(["walk_forward: no candidates to search"])
    t0 = time.perf_counter()
    with _Pool(evaluate_window, workers, len(wins) * len(cands)) as pool:
        train = pool.run([(p, (w.train_start, w.train_end)) for w in wins for p in cands],
                         "walk-forward train", progress, stream)
        searches = []
        for k in range(len(wins)):
            part = train[k * len(cands):(k + 1) * len(cands)]
            searches.append(SearchResult(name, _ranked(score, cands, part), pool.workers,
                                         sum(o[2] for o in part)))
        _check_metric(metric, [e for s in searches for e in s.evaluations])
        chosen = [s.evaluations[0] if s.evaluations[0].ok else None for s in searches]
        todo = [(k, c.params) for k, c in enumerate(chosen) if c is not None]
        tests = pool.run([(p, (wins[k].test_start, wins[k].test_end)) for k, p in todo],
                         "walk-forward test", progress, stream)
    oos = dict(zip((k for k, _ in todo), tests, strict=True))
    results = []
    for k, (w, s, c) in enumerate(zip(wins, searches, chosen, strict=True)):
        if c is None:
            results.append(WindowResult(w, s, None, math.nan, {}, math.nan, {},
                                        error="no candidate scored on train"))
            continue
        m, err, _ = oos[k]
        results.append(WindowResult(w, s, c.params, c.score, c.metrics, _apply(score, m),
                                    m or {}, error=err))
    return WalkForwardResult(objective=name, anchored=anchored, windows=tuple(results),
                             seconds=time.perf_counter() - t0)

