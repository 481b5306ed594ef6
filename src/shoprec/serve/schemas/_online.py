"""Request and response bodies of the online-loop endpoints: experiments and online metrics."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from shoprec.online import Experiment, Variant, VariantComparison
from shoprec.serve.schemas._core import Id, PathText, _Body

# its own pattern (which excludes NUL): Id's pattern would replace it in the OpenAPI document
Name = Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]

__all__ = [
    "ExperimentIn",
    "ExperimentList",
    "ExperimentOut",
    "ExperimentStatus",
    "OnlineMetrics",
    "VariantIn",
    "VariantResult",
]


class VariantIn(_Body):
    name: Name
    pipeline: PathText | None = Field(
        default=None, description="pipeline directory it serves; omitted: the active one"
    )
    weight: float = Field(default=1.0, gt=0, le=1000)

    def to_variant(self) -> Variant:
        return Variant(self.name, self.pipeline or "", self.weight)


class ExperimentIn(_Body):
    name: Name
    variants: list[VariantIn] = Field(min_length=2, max_length=10)
    salt: Id | None = Field(default=None, description="assignment salt; default: random")
    description: str = Field(default="", max_length=1000)


class ExperimentOut(BaseModel):
    name: str
    status: str
    started_at: int
    stopped_at: int | None
    variants: list[dict[str, Any]]
    aa: bool = Field(description="every variant serves the same pipeline")
    description: str = ""

    @classmethod
    def of(cls, experiment: Experiment) -> ExperimentOut:
        return cls(
            name=experiment.name,
            status="running" if experiment.running else "stopped",
            started_at=experiment.started_at,
            stopped_at=experiment.stopped_at,
            variants=[vars(v) for v in experiment.variants],
            aa=experiment.is_aa,
            description=experiment.description,
        )


class ExperimentList(BaseModel):
    experiments: list[ExperimentOut]


class VariantResult(BaseModel):
    variant: str
    metric: str
    users: int
    impressions: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    lift: float | None = Field(description="relative to the control (the first variant)")
    p_value: float | None = Field(description="two-sided z-test against the control")

    @classmethod
    def of(cls, result: VariantComparison) -> VariantResult:
        e = result.estimate
        return cls(
            variant=result.variant,
            metric=result.metric,
            users=result.users,
            impressions=result.impressions,
            value=_finite(e.value),
            ci_low=_finite(e.low),
            ci_high=_finite(e.high),
            lift=_finite(result.lift),
            p_value=_finite(result.p_value),
        )


class ExperimentStatus(BaseModel):
    experiment: ExperimentOut
    results: list[VariantResult]
    daily: list[dict[str, Any]]


class OnlineMetrics(BaseModel):
    by: list[str]
    window_hours: float
    rows: list[dict[str, Any]] = Field(
        description="per group: impressions, lists, users, clicks, ctr, add_to_cart, "
        "conversion, revenue_per_impression, dwell_ms"
    )


def _finite(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None
