"""The online loop: what was shown and what customers did about it.

Attribution of events to impressions, online metrics per version, variant and day, A/B and A/A
experiments with confidence intervals and significance tests. It reads the store and sits above
the pipeline and evaluation; the service and the command line use it.
"""

from __future__ import annotations

from shoprec.online._attribution import AttributionConfig, attribute
from shoprec.online._drift import DRIFT_KINDS, DataProfile, measure_drift, store_drift
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
from shoprec.online._incremental import INCREMENTAL_MODELS, fine_tune
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
from shoprec.online._registry import (
    MODEL_KIND,
    ModelEntry,
    champion,
    list_models,
    promote,
    register_model,
)
from shoprec.online._report import online_report, write_online_report
from shoprec.online._retrain import RetrainConfig, RetrainResult, artifact_id, retrain
from shoprec.online._simulator import (
    ClickModel,
    Customers,
    ReplayCustomers,
    SimulationTruth,
    SyntheticCustomers,
    measured_against_truth,
    run_experiment,
    simulate,
)

__all__ = [
    "DRIFT_KINDS",
    "EXPERIMENT_KIND",
    "INCREMENTAL_MODELS",
    "METRICS",
    "MODEL_KIND",
    "AttributionConfig",
    "ClickModel",
    "Customers",
    "DataProfile",
    "Experiment",
    "ExperimentConflictError",
    "ExperimentNotFoundError",
    "ModelEntry",
    "RateEstimate",
    "ReplayCustomers",
    "RetrainConfig",
    "RetrainResult",
    "SimulationTruth",
    "SyntheticCustomers",
    "Variant",
    "VariantComparison",
    "artifact_id",
    "assignment_point",
    "attribute",
    "attributed_impressions",
    "champion",
    "compare_variants",
    "experiment_results",
    "fine_tune",
    "get_experiment",
    "list_experiments",
    "list_models",
    "measure_drift",
    "measured_against_truth",
    "new_experiment",
    "online_metrics",
    "online_report",
    "promote",
    "register_model",
    "retrain",
    "run_experiment",
    "running_experiment",
    "save_experiment",
    "simulate",
    "start_experiment",
    "stop_experiment",
    "store_drift",
    "summarise",
    "write_online_report",
]
