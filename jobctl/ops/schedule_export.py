"""`schedule export`: the schedules jobctl runs, as a crontab (domain.crontab_export)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from jobctl.config.model import Config
from jobctl.domain.crontab_export import CrontabExport, Exportable, export_crontab
from jobctl.domain.schedule import Schedule

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


def chosen(store: Store, names: Sequence[str], shadow_mode: bool) -> list[Schedule]:
    """The schedules named (NotFound for an unknown one), or, with none named, every
    schedule jobctl runs: those not in shadow (paused ones included)."""
    if names:
        return [store.schedules.get(name) for name in dict.fromkeys(names)]
    return [s for s in store.schedules.list() if not s.is_shadow(shadow_mode)]


def exportable(s: Schedule, config: Config) -> Exportable:
    """A schedule with what cron must run for it: a job type's command (its payload on
    stdin, its user), resolved from the config."""
    if s.job_type is None:
        return Exportable(s)
    job_type = config.job_type(s.job_type)
    if job_type is None or job_type.command is None:
        return Exportable(s)
    stdin = None if s.payload is None else json.dumps(s.payload)
    return Exportable(replace(s, user=s.user or job_type.user), list(job_type.command), stdin)


def export_schedules(
    store: Store,
    config: Config,
    names: Sequence[str],
    system: bool = False,
    default_user: str = "root",
) -> CrontabExport:
    """The crontab reproducing the chosen schedules, and those left out with why."""
    schedules = chosen(store, names, config.shadow_mode.enabled)
    return export_crontab([exportable(s, config) for s in schedules], system, default_user)
