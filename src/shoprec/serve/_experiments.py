"""Experiments in the service: the variants' deployments and which one serves a user.

:class:`ExperimentRouting` is immutable; the serving state swaps a whole routing in or out, so
a request reads it once and never sees half an experiment. Variants that serve the same
artifact share one loaded pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from shoprec.online import Experiment
from shoprec.serve._deployment import Deployment

__all__ = ["ExperimentRouting"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExperimentRouting:
    """A running experiment and one labelled deployment per variant."""

    experiment: Experiment
    deployments: dict[str, Deployment]

    @classmethod
    def load(
        cls,
        experiment: Experiment,
        active: Deployment,
        deploy: Callable[[str], Deployment],
    ) -> ExperimentRouting:
        """Load every variant's pipeline (``""`` serves ``active``), once per artifact."""
        loaded: dict[str, Deployment] = {}
        deployments: dict[str, Deployment] = {}
        for variant in experiment.variants:
            path = variant.pipeline
            if path not in loaded:
                loaded[path] = active if not path else deploy(path)
            deployments[variant.name] = replace(
                loaded[path], experiment=experiment.name, variant=variant.name
            )
        return cls(experiment, deployments)

    def route(self, user_id: str | None) -> Deployment | None:
        """The deployment serving ``user_id``; ``None`` for anonymous visitors (not in it)."""
        if not user_id:
            return None
        return self.deployments[self.experiment.assign(user_id).name]

    def pipelines(self) -> Iterator[Deployment]:
        """One deployment per distinct loaded pipeline."""
        seen: set[int] = set()
        for deployment in self.deployments.values():
            if id(deployment.pipeline) not in seen:
                seen.add(id(deployment.pipeline))
                yield deployment
