"""Drift: knowing a moment's normal, and saying when it has changed.

A fixed threshold ("mean below 3.5 in an hour") is noisy on a busy moment and
blind on a quiet one, and cannot tell a Monday-morning queue that is always bad
from a desk that is getting worse. A drift rule learns each key's own normal —
the distribution of its scores (or its negative share, or its ratings per
hour) in the same part of the week over the last ``baseline_weeks`` complete
weeks — and runs a sequential change detector against it.

The detector is Shiryaev–Roberts on the likelihood ratio of "shifted by
``shift``" against "normal": ``R ← (1 + R) · Λ(x)``, alarm when ``R ≥ A``.
Because ``R_n − n`` is a martingale while nothing has changed, the expected
number of observations to a false alarm is exactly ``E[R_T]``, which lies
between ``A`` and ``A · max Λ`` — whatever the shape of the scores. So the
manager's ``false_alarm_every = "90d"`` becomes ``A`` directly: the
observations the key has in 90 days, divided by the typical overshoot.
River's drift detectors (ADWIN, Page–Hinkley, KSWIN) compare a stream with
its own recent past and take thresholds with no stated false-alarm rate, and
know nothing of the week's seasons; what is needed here is a few lines, so it
is written here.

Memory per key is ``(baseline_weeks + 1) × slots × bins`` numbers, whatever
the history's length.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

#: Parts of the day a "part-of-week" baseline splits each day into (local hours).
PARTS = ("nights", "mornings", "afternoons", "evenings")
PART_HOURS = 6
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: The baselines a rule may ask for, finest level first; each falls back to the next
#: when a slot has fewer than ``min_samples`` ratings in the baseline weeks.
BASELINES: dict[str, tuple[str, ...]] = {
    "hour-of-week": ("hour-of-week", "hour-of-day", "flat"),
    "part-of-week": ("part-of-week", "part-of-day", "flat"),
    "day-of-week": ("day-of-week", "flat"),
    "hour-of-day": ("hour-of-day", "part-of-day", "flat"),
    "flat": ("flat",),
}

#: Slots of each level, their index from (weekday, hour), and local hours per slot a week.
_LEVELS: dict[str, tuple[int, Callable[[int, int], int], int]] = {
    "hour-of-week": (168, lambda d, h: d * 24 + h, 1),
    "part-of-week": (28, lambda d, h: d * 4 + h // PART_HOURS, PART_HOURS),
    "day-of-week": (7, lambda d, h: d, 24),
    "hour-of-day": (24, lambda d, h: h, 7),
    "part-of-day": (4, lambda d, h: h // PART_HOURS, 7 * PART_HOURS),
    "flat": (1, lambda d, h: 0, 168),
}

#: Pseudo-ratings a slot's distribution borrows from the level above it, at least and at
#: most (:func:`_prior` decides how many from how much the slots really differ): a slot
#: with few ratings leans on its wider normal instead of on its own noise.
PRIOR = 20.0
MAX_PRIOR = 100_000.0
#: Typical overshoot of R over A at an alarm (E[R_T]/A): A is the asked-for run
#: length divided by this, so the measured rate is centred on the asked one.
OVERSHOOT = 1.25
#: A mean or share drift with no rating in scope for this long resolves: nothing to judge.
QUIET_RESOLVE = 7 * 86400.0
#: Complete weeks a volume drift needs before it judges (each hour has one sample a week).
VOLUME_WEEKS = 4
#: Below this many expected ratings an hour, an hour says nothing about volume.
QUIET_HOUR = 1e-3


def words_for(level: str, slot: int, weeks: int) -> str:
    """A slot as a manager says it: "Monday mornings", "09:00–10:00", "Sundays"."""
    if level == "hour-of-week":
        day, hour = divmod(slot, 24)
        return f"{DAYS[day]}s {hour:02d}:00–{(hour + 1) % 24:02d}:00"
    if level == "part-of-week":
        day, part = divmod(slot, 4)
        return f"{DAYS[day]} {PARTS[part]}"
    if level == "day-of-week":
        return f"{DAYS[slot]}s"
    if level == "hour-of-day":
        return f"{slot:02d}:00–{(slot + 1) % 24:02d}:00"
    if level == "part-of-day":
        return PARTS[slot]
    return f"the last {weeks} weeks"


class WeekClock:
    """A timestamp's local week, weekday and hour in one zone, worked out once per hour.

    Ratings come in time order, so nearly every call is answered from the
    hour already worked out (a zone's offsets change on the hour).
    """

    __slots__ = ("end", "start", "value", "zone")

    def __init__(self, zone: Any) -> None:
        self.zone = zone
        self.start = math.inf
        self.end = -math.inf
        self.value: tuple[int, int, int, float] = (0, 0, 0, 0.0)

    def at(self, t: float) -> tuple[int, int, int, float]:
        """``(week, weekday, hour, end of this local hour)`` of ``t``."""
        if self.start <= t < self.end:
            return self.value
        local = datetime.fromtimestamp(t, self.zone)
        start = t - (local.minute * 60 + local.second + local.microsecond / 1e6)
        week = (local.toordinal() - 1) // 7  # weeks start on Mondays
        self.start, self.end = start, start + 3600
        self.value = (week, local.weekday(), local.hour, self.end)
        return self.value


class Season:
    """Counts per week, slot and bin for the last ``weeks`` complete weeks and this one."""

    __slots__ = ("bins", "cells", "first_week", "ring", "slots", "tags", "weeks")

    def __init__(self, weeks: int, slots: int, bins: int) -> None:
        self.weeks, self.slots, self.bins = weeks, slots, bins
        self.ring = weeks + 1
        self.cells = array("d", bytes(8 * (weeks + 1) * slots * bins))
        self.tags = [-1] * (weeks + 1)
        self.first_week: int | None = None

    def add(self, week: int, slot: int, bin_: int, weight: float = 1.0) -> None:
        ring = week % (self.weeks + 1)
        if self.tags[ring] != week:
            if self.tags[ring] > week:
                return  # older than every week kept: it is no longer part of any normal
            size = self.slots * self.bins
            self.cells[ring * size : (ring + 1) * size] = array("d", bytes(8 * size))
            self.tags[ring] = week
        if self.first_week is None or week < self.first_week:
            self.first_week = week
        self.cells[(ring * self.slots + slot) * self.bins + bin_] += weight

    def before(self, week: int) -> tuple[list[list[float]], int]:
        """Counts per slot and bin summed over the complete weeks before ``week``,
        and how many of those weeks the key has existed for."""
        size = self.slots * self.bins
        total = [0.0] * size
        for back in range(1, self.weeks + 1):
            past = week - back
            ring = past % (self.weeks + 1)
            if past < 0 or self.tags[ring] != past:
                continue
            chunk = self.cells[ring * size : (ring + 1) * size]
            total = [a + b for a, b in zip(total, chunk, strict=True)]
        known = 0 if self.first_week is None else max(0, min(self.weeks, week - self.first_week))
        bins = self.bins
        return [total[s * bins : (s + 1) * bins] for s in range(self.slots)], known


class Normal:
    """One slot's normal, and the log-likelihood ratio of each observation against it."""

    __slots__ = ("expected", "level", "logl", "slot")

    def __init__(self, level: str, slot: int, expected: float, logl: tuple[float, ...]) -> None:
        self.level, self.slot, self.expected, self.logl = level, slot, expected, logl


class Watch:
    """One direction's detector: Shiryaev–Roberts to fire, CUSUM to tell the story.

    ``r`` is log R of Shiryaev–Roberts, whose false-alarm run length follows
    from A (see the module's docstring); it restarts at 0 after each alarm.
    ``w`` is the CUSUM of the same evidence: the last time it was 0 is the best
    guess of when the change began, so what is told ("mean 3.1 since Monday
    09:10") is what has been seen since. Once alarmed, ``v`` gathers the evidence
    for "back to normal"; the alarm clears when it reaches half of log A.
    """

    __slots__ = ("alarmed", "expected", "n", "r", "since", "slots", "total", "v", "w")

    def __init__(self) -> None:
        self.r = -math.inf  # log R: R = 0 at the start
        self.w = 0.0
        self.v = 0.0
        self.alarmed = False
        self.reset()

    def clear(self) -> None:
        """Back to "no evidence" and no alarm; the next alarm is counted from here."""
        self.alarmed = False
        self.r, self.w, self.v = -math.inf, 0.0, 0.0
        self.reset()

    def reset(self) -> None:
        """Forget the story told so far (what was seen since the change began)."""
        self.n = 0
        self.total = 0.0
        self.expected = 0.0
        self.since: float | None = None
        self.slots: dict[tuple[str, int], None] = {}  # in the order they were met

    def update(self, logl: float, log_a: float, t: float, value: float, normal: Normal) -> None:
        """Take one observation's evidence ``logl`` = log Λ (shifted against normal)."""
        w = self.w + logl
        if w <= 0.0:
            self.w = 0.0
            if not self.alarmed:
                self.reset()  # no evidence of a change: what follows starts the story
        else:
            self.w = w
            if self.since is None:
                self.since = t
            self.n += 1
            self.total += value
            self.expected += normal.expected
            self.slots[(normal.level, normal.slot)] = None
        if self.alarmed:
            v = self.v - logl
            self.v = v if v > 0.0 else 0.0
            if self.v >= log_a / 2:  # as sure it is back to normal as half the firing evidence
                self.clear()
            return
        r = self.r
        if r > -30.0:
            r = math.log1p(math.exp(r)) + logl
        else:  # log(1 + R) is R itself when R is this small
            r = (math.exp(r) if r > -700.0 else 0.0) + logl
        if r >= log_a:
            self.alarmed = True
            self.v = 0.0
            r = -math.inf  # the next alarm is counted from here
        self.r = r


def tilt(probabilities: list[float], values: list[float], goal: float) -> tuple[float, float]:
    """``θ`` and ``log M(θ)`` such that ``p(x)·e^(θx) / M(θ)`` has mean ``goal`` (nearly).

    The shifted distribution keeps the normal's shape (the same faces stay
    likely) and only moves its mean: the least surprising way to be ``shift``
    worse. Any ``θ`` gives a true likelihood ratio (its mean under the normal
    is 1, which is all the false-alarm rate rests on), so a few Newton steps
    from ``θ = 0`` are enough; they land within a hundredth of a point.
    """
    pairs = [(p, v) for p, v in zip(probabilities, values, strict=True) if p > 0]
    top_value = max(v for _, v in pairs)
    low_value = min(v for _, v in pairs)
    low, high, theta = -40.0, 40.0, 0.0
    for _ in range(60):  # Newton's steps, kept inside a bracket that bisection narrows
        shift = theta * (top_value if theta > 0 else low_value)
        weights = [(p * math.exp(theta * v - shift), v) for p, v in pairs]
        m = sum(w for w, _ in weights)
        mean = sum(w * v for w, v in weights) / m
        if abs(mean - goal) < 1e-3:
            break
        if mean < goal:
            low = theta
        else:
            high = theta
        variance = sum(w * (v - mean) ** 2 for w, v in weights) / m
        step = theta + (goal - mean) / variance if variance > 1e-12 else math.nan
        theta = step if low < step < high else (low + high) / 2
    shift = theta * (top_value if theta > 0 else low_value)
    return theta, math.log(sum(p * math.exp(theta * v - shift) for p, v in pairs)) + shift


def split(value: float, scale: int) -> tuple[int, float]:
    """``(face bin, share of it in the bin above)`` of a score from another scale.

    Moved onto the cycle's scale (2.33 of 5), it is split between its two
    neighbouring faces, so the normal's mean stays exact.
    """
    low = min(int(value), scale) - 1
    return low, value - 1 - low


class DriftSpec:
    """What a drift rule watches, compiled once: the engine asks it for each key's detector."""

    def __init__(
        self,
        figure: str,
        shift: float,
        direction: str,
        period: timedelta,
        baseline: str,
        weeks: int,
        min_samples: int,
    ) -> None:
        self.figure = figure
        self.shift = shift
        self.directions = ("down", "up") if direction == "both" else (direction,)
        # An hour's volume is only comparable with the same hour: a part of the day
        # that holds the opening would make every first and last hour look quiet.
        self.levels = BASELINES["hour-of-week" if figure == "volume" else baseline]
        self.weeks = weeks
        self.min_samples = min_samples
        finest = self.levels[0]
        self.slots, self.slot_of, self.slot_hours = _LEVELS[finest]
        self.bins = {"mean": 5, "share": 2, "volume": 1}[figure]
        # A false alarm every `period` in all: each of two directions gets half the rate.
        self.run_length = period * len(self.directions)

    def new_key(self) -> DriftKey:
        return DriftKey(self)

    def log_threshold(self, per_week: float) -> float:
        """log A for a false alarm every ``run_length`` at ``per_week`` observations a week."""
        expected = per_week * self.run_length.total_seconds() / (7 * 86400)
        return math.log(max(expected / OVERSHOOT, 2.0))

    # -- the normal of each slot, from the baseline weeks' counts -----------------

    def normals(self, counts: list[list[float]], known: int, scale: int) -> WeekNormals:
        """This week's normals, from the baseline weeks' counts per finest slot."""
        if self.figure == "volume":
            return self._volume_normals(counts, known)
        tables: list[list[list[float]]] = [counts]  # counts at every level, finest first
        for level in self.levels[1:]:
            size = _LEVELS[level][0]
            merged = [[0.0] * self.bins for _ in range(size)]
            for s, row in enumerate(counts):
                if not any(row):
                    continue
                target = merged[_within(self.levels[0], level)[s]]
                for b, c in enumerate(row):
                    target[b] += c
            tables.append(merged)
        flat = tables[-1][0]
        total = sum(flat)
        if total < self.min_samples or known < 1:
            return WeekNormals(self, self.slots, 0.0)
        bins = self.bins if self.figure == "share" else scale
        values = [float(v) for v in (range(bins) if self.figure == "share" else range(1, bins + 1))]
        # Each level's distributions, widest first, each row leaning on the row above it.
        dists: list[list[list[float]]] = [[[(c + 0.5) / (total + 0.5 * bins) for c in flat[:bins]]]]
        for depth in range(len(self.levels) - 2, -1, -1):
            level, parent = self.levels[depth], self.levels[depth + 1]
            size, _, _ = _LEVELS[level]
            above = dists[0]
            parent_of = _within(level, parent)
            rows = [row[:bins] for row in tables[depth]]
            prior = _prior(rows, [above[k] for k in parent_of], values)
            dists.insert(
                0,
                [
                    [
                        (c + prior * q) / (sum(row) + prior)
                        for c, q in zip(row, above[parent_of[i]], strict=True)
                    ]
                    for i, row in enumerate(rows)
                ],
            )
        return WeekNormals(self, self.slots, total / known, tables, dists, scale)

    def slot_normals(self, week: WeekNormals, slot: int) -> list[Normal | None]:
        """One finest slot's normal per direction: the finest level with enough ratings."""
        finest = self.levels[0]
        chosen = len(self.levels) - 1
        for depth, level in enumerate(self.levels):
            if week.sizes[depth][_within(finest, level)[slot]] >= self.min_samples:
                chosen = depth
                break
        level = self.levels[chosen]
        index = _within(finest, level)[slot]
        found = week.shared.get((chosen, index))
        if found is None:
            p = week.dists[chosen][index]
            found = week.shared[(chosen, index)] = [
                self._normal(level, index, p, week.scale, d) for d in self.directions
            ]
        return found

    def _normal(self, level: str, slot: int, p: list[float], scale: int, direction: str) -> Normal:
        sign = -1.0 if direction == "down" else 1.0
        if self.figure == "share":
            p0 = p[1]
            p1 = min(max(p0 + sign * self.shift, 0.001), 0.999)
            return Normal(level, slot, p0, (math.log((1 - p1) / (1 - p0)), math.log(p1 / p0)))
        values = [float(v) for v in range(1, scale + 1)]
        mean = sum(q * v for q, v in zip(p, values, strict=True))
        goal = min(max(mean + sign * self.shift, 1.02), scale - 0.02)
        theta, log_m = tilt(p, values, goal)
        logl = tuple(theta * v - log_m for v in values) + (0.0,) * (5 - scale)
        return Normal(level, slot, mean, (theta, log_m, *logl))

    def _volume_normals(self, counts: list[list[float]], known: int) -> WeekNormals:
        total = sum(row[0] for row in counts)
        level = self.levels[0]
        if total < self.min_samples or known < min(self.weeks, VOLUME_WEEKS):
            return WeekNormals(self, self.slots, 0.0)
        week = WeekNormals(self, self.slots, 0.0)
        open_hours = 0
        for s, row in enumerate(counts):
            rate = row[0] / (known * self.slot_hours)  # ratings an hour, this slot
            if rate < QUIET_HOUR:
                week.slots[s] = [None] * len(self.directions)  # closed: an hour says nothing
                continue
            open_hours += self.slot_hours
            normals: list[Normal | None] = []
            for direction in self.directions:
                shifted = rate * (1 - self.shift if direction == "down" else 1 + self.shift)
                shifted = max(shifted, QUIET_HOUR / 10)
                normals.append(Normal(level, s, rate, (math.log(shifted / rate), shifted - rate)))
            week.slots[s] = normals
        week.per_week = float(open_hours)
        return week


class WeekNormals:
    """A key's normals for one week, worked out slot by slot as ratings need them.

    ``slots[s]`` is the list of normals per direction (``None`` in it: not enough
    history), or :data:`UNSET` until slot ``s`` is first asked for.
    """

    __slots__ = ("dists", "per_week", "scale", "shared", "sizes", "slots", "spec")

    def __init__(
        self,
        spec: DriftSpec,
        slots: int,
        per_week: float,
        tables: list[list[list[float]]] | None = None,
        dists: list[list[list[float]]] | None = None,
        scale: int = 5,
    ) -> None:
        self.spec, self.per_week, self.scale = spec, per_week, scale
        self.dists = dists or []
        self.sizes = [[sum(row) for row in table] for table in tables or []]  # ratings per row
        learning = [None] * len(spec.directions)
        self.slots: list[Any] = [UNSET if per_week else learning] * slots
        self.shared: dict[tuple[int, int], list[Normal | None]] = {}

    def get(self, slot: int) -> list[Normal | None]:
        found = self.slots[slot]
        if found is UNSET:
            found = self.slots[slot] = self.spec.slot_normals(self, slot)
        return found


#: A slot whose normal has not been worked out yet this week.
UNSET: Any = object()


def _prior(rows: list[list[float]], parents: list[list[float]], values: list[float]) -> float:
    """How many pseudo-ratings each row should borrow from its parent (empirical Bayes).

    Rows whose means differ from their parent's no more than sampling noise
    would make them differ borrow almost everything (a season that is not
    there is not learnt from noise); rows that really differ keep their own.
    """
    spread = noise = weight = 0.0
    for row, parent in zip(rows, parents, strict=True):
        n = sum(row)
        if n < 2:
            continue
        mean = sum(c * v for c, v in zip(row, values, strict=True)) / n
        centre = sum(q * v for q, v in zip(parent, values, strict=True))
        variance = sum(q * (v - centre) ** 2 for q, v in zip(parent, values, strict=True))
        spread += n * (mean - centre) ** 2
        noise += variance
        weight += n
    if weight == 0:
        return PRIOR
    within = noise / sum(1 for row in rows if sum(row) >= 2)
    between = (spread - noise) / weight  # the spread beyond what noise alone would give
    if between <= 0:
        return MAX_PRIOR
    return min(max(within / between, PRIOR), MAX_PRIOR)


@lru_cache(maxsize=64)
def _within(level: str, wider: str) -> tuple[int, ...]:
    """For each slot of ``level``, the slot of ``wider`` that holds it."""
    index = _LEVELS[wider][1]
    return tuple(index(*_slot_time(level, s)) for s in range(_LEVELS[level][0]))


def _slot_time(level: str, slot: int) -> tuple[int, int]:
    """A (weekday, hour) inside a slot of ``level``, to find the slots above it."""
    if level == "hour-of-week":
        return divmod(slot, 24)
    if level == "part-of-week":
        day, part = divmod(slot, 4)
        return day, part * PART_HOURS
    if level == "day-of-week":
        return slot, 0
    if level == "hour-of-day":
        return 0, slot
    if level == "part-of-day":
        return 0, slot * PART_HOURS
    return 0, 0


class DriftKey:
    """One key's baseline weeks, its normals for this week, and its detectors."""

    __slots__ = (
        "hour",
        "hour_count",
        "hour_end",
        "hour_slot",
        "hour_week",
        "log_a",
        "normals",
        "scale",
        "season",
        "slot",
        "spec",
        "watches",
        "week",
    )

    def __init__(self, spec: DriftSpec) -> None:
        self.spec = spec
        self.season = Season(spec.weeks, spec.slots, spec.bins)
        self.week = -1  # the week the normals were worked out for
        self.normals = WeekNormals(spec, spec.slots, 0.0)
        self.log_a = math.inf
        self.scale = 5
        self.watches = [Watch() for _ in spec.directions]
        self.hour: tuple[int, int, int, float] | None = None  # the local hour last seen ...
        self.slot = 0  # ... and its slot
        self.hour_end: float | None = None  # volume: the local hour being counted
        self.hour_count = 0
        self.hour_slot = 0
        self.hour_week = 0

    @property
    def active(self) -> bool:
        watches = self.watches
        return watches[0].alarmed or (len(watches) > 1 and watches[1].alarmed)

    def _refresh(self, week: int) -> None:
        if week == self.week:
            return
        counts, known = self.season.before(week)
        self.normals = self.spec.normals(counts, known, self.scale)
        per_week = self.normals.per_week
        self.log_a = self.spec.log_threshold(per_week) if per_week else math.inf
        self.week = week
        if not per_week:
            self.clear()  # learning again (too few ratings in the baseline): no verdict stands

    def clear(self) -> None:
        """Every detector back to "no evidence": an alarm that can no longer be judged ends."""
        for watch in self.watches:
            watch.clear()

    def rate(self, clock: WeekClock, t: float, value: float, scale: int) -> bool:
        """A rating in scope: its score on the cycle's scale (mean), 1 or 0 for whether it
        counts (share), or anything (volume, judged when its hour ends).

        Returns whether a detector is telling a story (has seen evidence of a change).
        """
        hour = clock.at(t)
        if hour is self.hour:
            slot = self.slot
        else:
            week, day, local_hour, _ = hour
            self.hour, slot = hour, self.spec.slot_of(day, local_hour)
            self.slot = slot
        week = hour[0]
        figure = self.spec.figure
        if figure == "volume":
            if self.hour_end is not None and t >= self.hour_end:
                self.close_hours(clock, t)
            if self.hour_end is None:
                self.hour_end, self.hour_slot, self.hour_week = hour[3], slot, week
            if t < self.hour_end:
                self.hour_count += 1
            self.season.add(week, slot, 0)
            return any(w.n for w in self.watches)
        share = figure == "share"
        x = value
        if share:  # 1 for a rating that counts, 0 for one that does not
            bin_, upper = int(value), 0.0
        else:
            self.scale = scale
            if value == int(value):
                bin_, upper = int(value) - 1, 0.0
            else:
                bin_, upper = split(value, scale)
        if week > self.week:
            self._refresh(week)
        story = False
        if week == self.week:  # a rating from a past week joins the counts only
            normals = self.normals.slots[slot]
            if normals is UNSET:
                normals = self.normals.get(slot)
            log_a = self.log_a
            for watch, normal in zip(self.watches, normals, strict=True):
                if normal is None:
                    continue
                logl = normal.logl
                if share:
                    evidence = logl[1] if bin_ else logl[0]
                elif upper:
                    evidence = logl[0] * x - logl[1]
                else:
                    evidence = logl[2 + bin_]
                watch.update(evidence, log_a, t, x, normal)
                if watch.n:
                    story = True
        season = self.season
        if upper:
            season.add(week, slot, bin_, 1.0 - upper)
            season.add(week, slot, bin_ + 1, upper)
        elif season.tags[week % season.ring] == week:  # the week under way: count it here
            season.cells[((week % season.ring) * season.slots + slot) * season.bins + bin_] += 1.0
        else:
            season.add(week, slot, bin_)
        return story

    def close_hours(self, clock: WeekClock, until: float) -> float | None:
        """Volume: judge every local hour that has ended by ``until``; the next end."""
        while self.hour_end is not None and self.hour_end <= until:
            end = self.hour_end
            if self.hour_week > self.week:
                self._refresh(self.hour_week)
            if self.hour_week == self.week:
                n = self.hour_count
                normals = self.normals.get(self.hour_slot)
                for watch, normal in zip(self.watches, normals, strict=True):
                    if normal is not None:
                        log_ratio, extra = normal.logl
                        watch.update(n * log_ratio - extra, self.log_a, end - 3600, n, normal)
            week, day, hour, next_end = clock.at(end)
            self.hour_end, self.hour_week = next_end, week
            self.hour_slot = self.spec.slot_of(day, hour)
            self.hour_count = 0
        return self.hour_end
