"""Calibration: a small monotone model from an attempt's comparison features to the 1-10 rating people give.

The scorer's own final mapping (`models.scorer`) is set by hand from a few dance pairs. Once a community has
rated enough attempts, this model learns that last step from them: a single index (a weighted sum of the
standardised features) goes through a monotone, bounded link (a mixture of logistic steps) to 1-10. The
index keeps it data-efficient and easy to read; the free link lets it use the whole 1-10 range instead of
collapsing to the middle. It knows nothing of dances or bots: callers hand it tensors and feature names.

Several models are trained side by side as one batch (the folds of a cross-validation and the final fit;
a saved calibration keeps them all and predicts their mean):

    features: (N, F) float32, one row per attempt, NaN where a feature is missing (imputed with the mean)
    target:   (N,) float32, 1-10, the rating each attempt should get
    weight:   (E, N) float32 >= 0, how much each attempt counts in each of the E fits (0: held out)
    returns:  (E, N) float32, 1-10, each model's prediction for each attempt
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

LOW, HIGH = 1.0, 10.0  # the rating scale


@dataclass(frozen=True)
class FitSettings:
    """How the model is fitted. Defaults were chosen on the synthetic raters of `bench/ratings.py`."""

    steps: int = 400  # full-batch Adam steps
    learning_rate: float = 0.05
    # L2 penalty on the weights of the features other than the anchor (standardised), in squared rating
    # points summed over all the weight of the targets: it fades as ratings accumulate.
    ridge: float = 900.0
    # The same for the link's shape, drawn towards its start (evenly spread steps): with few ratings one
    # odd target cannot bend the ends of the scale.
    link_ridge: float = 100.0
    huber: float = 1.0  # rating points: errors beyond this count linearly (robust to odd targets)
    link_steps: int = 3  # logistic steps in the monotone link
    seed: int = 0


class MonotoneCalibration(nn.Module):
    """E single-index models: index = features . direction + bias, score = 1 + 9 x mix of sigmoid steps.

    `shift` and `scale` (F,) standardise the raw features (training mean and spread); a missing feature
    (NaN) counts as its mean. The output rises monotonically with the index and stays inside 1-10.
    """

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, n_models: int, n_features: int, link_steps: int = 3) -> None:
        super().__init__()
        self.register_buffer("shift", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.direction = nn.Parameter(torch.zeros(n_models, n_features))
        self.bias = nn.Parameter(torch.zeros(n_models))
        self.step_at = nn.Parameter(torch.linspace(-1.5, 1.5, link_steps).repeat(n_models, 1))
        self.step_slope = nn.Parameter(torch.full((n_models, link_steps), 1.0))
        self.step_share = nn.Parameter(torch.zeros(n_models, link_steps))

    @property
    def n_models(self) -> int:
        return int(self.direction.shape[0])

    def standardise(self, features: torch.Tensor) -> torch.Tensor:
        """(N, F) raw -> (N, F) standardised, NaN -> 0 (the training mean)."""
        z = (features - self.shift) / self.scale
        return torch.nan_to_num(z, nan=0.0)

    def index(self, features: torch.Tensor) -> torch.Tensor:
        """(N, F) raw features -> (E, N) index of each model."""
        return self.direction @ self.standardise(features).T + self.bias[:, None]

    def link(self, index: torch.Tensor) -> torch.Tensor:
        """(E, N) index -> (E, N) rating 1-10, monotone increasing."""
        slope = nn.functional.softplus(self.step_slope)[:, :, None] * 4.0  # (E, S, 1)
        steps = torch.sigmoid(slope * (index[:, None, :] - self.step_at[:, :, None]))  # (E, S, N)
        share = torch.softmax(self.step_share, dim=-1)[:, :, None]
        return LOW + (HIGH - LOW) * (share * steps).sum(dim=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.link(self.index(features))

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """(N, F) raw features -> (N,) rating 1-10: the mean of the E models (a calibration is saved as the
        bag of its cross-validation fits and its fit on all the data, which varies less than any one)."""
        return self(features).mean(dim=0)

    def to_state(self) -> dict[str, Any]:
        """A JSON-ready description of the E models: every tensor as a list of floats."""
        return {name: tensor.detach().cpu().tolist() for name, tensor in self.state_dict().items()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MonotoneCalibration:
        """The model `to_state` described; raises ValueError when the description is malformed."""
        try:
            tensors = {name: torch.tensor(value, dtype=torch.float32) for name, value in state.items()}
            n_models, link_steps = tensors["step_at"].shape
            model = cls(int(n_models), int(tensors["shift"].shape[0]), int(link_steps))
            model.load_state_dict(tensors)
        except (KeyError, IndexError, RuntimeError, TypeError, ValueError) as exc:
            raise ValueError(f"not a calibration model: {exc}") from exc
        if not all(torch.isfinite(t).all() for t in tensors.values()):
            raise ValueError("not a calibration model: non-finite parameters")
        return model.eval()


def fit(
    features: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor,
    settings: FitSettings | None = None,
    *,
    anchor: int = 0,
) -> MonotoneCalibration:
    """Fit E models at once (one per row of `weight`) on the device the tensors are on; returns them in eval mode.

    `anchor` is the column of the current scorer's score: its weight in the index is fixed at 1 (in
    standardised units), so a model starts as the current mapping and the ridge penalty on the other
    features' weights has a scale to act on (a single index is otherwise only defined up to a factor).
    With few ratings the fit stays a monotone re-mapping of the current score; more ratings let the
    other features correct it. The features are standardised on all N rows (features carry no rating, so
    nothing held out leaks into a fit); each model sees only the targets its row of `weight` weighs.
    """
    settings = settings or FitSettings()
    device = features.device
    n, f = features.shape
    e = weight.shape[0]
    if target.shape != (n,) or weight.shape != (e, n) or not 0 <= anchor < f:
        shapes = f"features {tuple(features.shape)}, target {tuple(target.shape)}, weight {tuple(weight.shape)}"
        raise ValueError(f"shapes do not match: {shapes}, anchor {anchor}")
    torch.manual_seed(settings.seed)
    model = MonotoneCalibration(e, f, settings.link_steps).to(device)
    free = torch.ones(f, device=device)
    free[anchor] = 0.0
    with torch.no_grad():
        present = torch.isfinite(features)
        count = present.sum(0).clamp_min(1)
        mean = torch.where(present, features, 0.0).sum(0) / count
        var = torch.where(present, (features - mean) ** 2, 0.0).sum(0) / count
        model.shift.copy_(mean)
        model.scale.copy_(torch.sqrt(var).clamp_min(1e-6))
        model.direction[:, anchor] = 1.0
    x = model.standardise(features)
    start = [p.detach().clone() for p in (model.step_at, model.step_slope, model.step_share)]
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    total = weight.sum(dim=1).clamp_min(1e-9)
    for _ in range(settings.steps):
        optimiser.zero_grad()
        pred = model.link(model.direction @ x.T + model.bias[:, None])
        loss = nn.functional.huber_loss(pred, target.expand_as(pred), reduction="none", delta=settings.huber)
        per_model = (weight * loss).sum(dim=1) / total
        penalty = settings.ridge * (model.direction**2 * free).sum(dim=1) / total
        link = (model.step_at, model.step_slope, model.step_share)
        bend = sum(((p - p0) ** 2).sum(dim=1) for p, p0 in zip(link, start, strict=True))
        penalty = penalty + settings.link_ridge * bend / total
        (per_model + penalty).sum().backward()
        assert model.direction.grad is not None
        model.direction.grad[:, anchor] = 0.0  # the anchor's weight stays 1
        optimiser.step()
    return model.eval()


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two (N,) tensors (ties get their average rank); NaN if either is flat."""
    ra, rb = _ranks(a.double()), _ranks(b.double())
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = math.sqrt(float((ra**2).sum() * (rb**2).sum()))
    return float((ra * rb).sum()) / denominator if denominator > 0 else float("nan")


def _ranks(values: torch.Tensor) -> torch.Tensor:
    order = torch.argsort(values)
    ranks = torch.empty_like(values)
    ranks[order] = torch.arange(len(values), dtype=values.dtype, device=values.device)
    # Average the ranks of ties.
    unique, inverse = torch.unique(values, return_inverse=True)
    sums = torch.zeros(len(unique), dtype=values.dtype, device=values.device).index_add_(0, inverse, ranks)
    counts = torch.zeros(len(unique), dtype=values.dtype, device=values.device).index_add_(
        0, inverse, torch.ones_like(ranks)
    )
    return (sums / counts)[inverse]


def describe_settings(settings: FitSettings) -> dict[str, Any]:
    """The settings as a JSON-ready dict (kept in a calibration's weights file)."""
    return asdict(settings)
