"""The online loop: what was shown and what customers did about it.

Attribution of events to impressions, online metrics per version, variant and day, A/B and A/A
experiments with confidence intervals and significance tests. It reads the store and sits above
the pipeline and evaluation; the service and the command line use it.
"""

from __future__ import annotations

from shoprec.online._attribution import AttributionConfig, attribute
from shoprec.online._experiments import (
    EXPERIMENT_KIND,
    Experiment,
    ExperimentConflictError,
    ExperimentNotFoundError,
    Variant,
    assignment_point,
    get_experiment,
    list_experiments,
    new_experiment,
    running_experiment,
    save_experiment,
    start_experiment,
    stop_experiment,
)
from shoprec.online._measurement import (
    METRICS,
    RateEstimate,
    VariantComparison,
    attributed_impressions,
    compare_variants,
    experiment_results,
    online_metrics,
    summarise,
)

__all__ = [
    "EXPERIMENT_KIND",
    "METRICS",
    "AttributionConfig",
    "Experiment",
    "ExperimentConflictError",
    "ExperimentNotFoundError",
    "RateEstimate",
    "Variant",
    "VariantComparison",
    "assignment_point",
    "attribute",
    "attributed_impressions",
    "compare_variants",
    "experiment_results",
    "get_experiment",
    "list_experiments",
    "new_experiment",
    "online_metrics",
    "running_experiment",
    "save_experiment",
    "start_experiment",
    "stop_experiment",
    "summarise",
]
