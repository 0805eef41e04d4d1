"""SYNTHETIC network-metrics traffic: demo training data and the evaluation's normal background.

Nothing here is measured from a real network. Each device gets its own normal
levels (latency 2-150 ms, utilisation 5-90 %, tens to thousands of
connections), noise of realistic shape (multiplicative latency jitter with rare
unlabelled micro-bursts, gamma packet loss, exponential error rates, Poisson
connection counts) and a daily cycle on utilisation and connections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Variation:
    """How a generator departs from the default one (the defaults change nothing, draw for draw).

    ``cycle``: amplitude of the daily cycle relative to the default (utilisation ±15 %,
    connections ±20 %); ``latency_cycle``: a daily cycle on latency too (±fraction); ``noise``:
    per-sample noise relative to the default (latency jitter, utilisation noise, and extra
    multiplicative noise on connections and errors above 1); ``near_limit``: the fraction of
    devices living near their limits (utilisation 85-95 %, 1,000-8,000 connections).
    """

    cycle: float = 1.0
    latency_cycle: float = 0.0
    noise: float = 1.0
    near_limit: float = 0.0


DEFAULT = Variation()


@dataclass(frozen=True, slots=True)
class DeviceProfiles:
    """Normal levels of ``n`` devices (arrays of length n)."""

    latency: np.ndarray
    loss: np.ndarray
    util: np.ndarray
    conns: np.ndarray
    errors: np.ndarray
    phase: np.ndarray

    @classmethod
    def draw(cls, n: int, rng: np.random.Generator, variation: Variation = DEFAULT) -> DeviceProfiles:
        p = cls(
            latency=np.clip(rng.lognormal(np.log(20.0), 0.7, n), 2.0, 150.0),
            loss=rng.uniform(0.0, 0.005, n),
            util=rng.uniform(0.05, 0.9, n),
            conns=np.clip(rng.lognormal(np.log(100.0), 0.8, n), 5.0, 5000.0),
            errors=np.clip(rng.lognormal(np.log(0.002), 1.0, n), 1e-5, 0.05),
            phase=rng.uniform(0.0, 2 * np.pi, n),
        )
        if variation.near_limit > 0:
            hot = rng.random(n) < variation.near_limit
            p.util[hot] = rng.uniform(0.85, 0.95, int(hot.sum()))
            p.conns[hot] = np.exp(rng.uniform(np.log(1000.0), np.log(8000.0), int(hot.sum())))
        return p


def normal_metrics(
    profiles: DeviceProfiles,
    dev: np.ndarray,
    t: np.ndarray,
    rng: np.random.Generator,
    variation: Variation = DEFAULT,
) -> np.ndarray:
    """Normal readings (n, 5) for devices ``dev`` at times ``t`` (seconds)."""
    n = dev.size
    v = variation
    cycle = np.sin(2 * np.pi * t / DAY_S + profiles.phase[dev])
    lat = profiles.latency[dev] * np.exp(rng.normal(0.0, 0.08 * v.noise, n))
    if v.latency_cycle:
        lat = lat * (1.0 + v.latency_cycle * cycle)
    burst = rng.random(n) < 0.005  # micro-bursts: part of normal life, never labelled
    lat = np.where(burst, lat * rng.uniform(1.3, 2.0, n), lat)
    loss = rng.gamma(2.0, profiles.loss[dev] / 2.0 + 1e-4)
    util = profiles.util[dev] * (1.0 + 0.15 * v.cycle * cycle) + rng.normal(
        0.0, (0.01 + 0.03 * profiles.util[dev]) * v.noise
    )
    conns = rng.poisson(profiles.conns[dev] * (1.0 + 0.2 * v.cycle * cycle)).astype(np.float64)
    errors = rng.exponential(profiles.errors[dev])
    if v.noise > 1.0:
        extra = 0.1 * (v.noise - 1.0)
        conns = np.round(conns * np.exp(rng.normal(0.0, extra, n)))
        errors = errors * np.exp(rng.normal(0.0, extra, n))
    return np.column_stack(
        [np.clip(loss, 0.0, 1.0), lat, np.clip(util, 0.0, 1.0), conns.astype(np.float64), errors]
    )


def timeline(
    n_devices: int, minutes: int, events_per_minute: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Device index and time (s) of every event, in time order; each device polls on its own offset."""
    period = 60.0 / events_per_minute
    steps = minutes * events_per_minute
    offsets = rng.uniform(0.0, period, n_devices)
    t = (np.arange(steps)[:, None] * period + offsets[None, :]).ravel()
    dev = np.tile(np.arange(n_devices), steps)
    order = np.argsort(t, kind="stable")
    return dev[order], t[order]


def synthetic_normal_traffic(
    n_devices: int = 50, minutes: int = 1440, seed: int = 42, events_per_minute: int = 1
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """``(rows, device_ids, t_seconds)`` of SYNTHETIC normal traffic, in time order."""
    rng = np.random.default_rng(seed)
    profiles = DeviceProfiles.draw(n_devices, rng)
    dev, t = timeline(n_devices, minutes, events_per_minute, rng)
    rows = normal_metrics(profiles, dev, t, rng)
    names = [f"synthetic-{seed}-{i:04d}" for i in range(n_devices)]
    return rows, [names[i] for i in dev], t
