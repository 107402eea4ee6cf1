"""The answer's three small logistic models (candidate, verdict, abstention), read from a
JSON weights file without pickle; hand-set weights when there is none.

The weights file (`weights.json` beside this module, written by
`python -m newscite.eval.train_answerer`) holds for each model its feature names, the
mean and scale each feature was standardised with, the coefficients, the intercept and the
probability threshold chosen by cross-validation. Scoring is a dot product: no learning
library is needed at answer time.

Example:
    >>> models = AnswerModels.load()
    >>> models.abstain.probability({"best_score": 0.2, ...}) > models.abstain.threshold
    True
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from newscite.recipe import RECIPE

log = logging.getLogger(__name__)

WEIGHTS_PATH = Path(__file__).with_name("weights.json")
FORMAT = "newscite-answer-weights/1"


@dataclass(frozen=True)
class Logistic:
    """p = sigmoid(intercept + sum(coef_f * (x_f - mean_f) / scale_f)); `threshold` is the
    probability from which the model's "yes" is acted on (for the verdict model: the
    confidence, max(p, 1 - p), from which a Yes or No is shown)."""

    coef: dict[str, float]
    intercept: float = 0.0
    threshold: float = 0.5
    mean: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)

    def probability(self, features: dict[str, float]) -> float:
        z = self.intercept + sum(
            weight * (features.get(name, 0.0) - self.mean.get(name, 0.0))
            / (self.scale.get(name, 1.0) or 1.0) for name, weight in self.coef.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_dict(self) -> dict:
        return {"coef": self.coef, "intercept": self.intercept, "threshold": self.threshold,
                "mean": self.mean, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict) -> Logistic:
        return cls(coef={k: float(v) for k, v in data["coef"].items()},
                   intercept=float(data["intercept"]), threshold=float(data["threshold"]),
                   mean={k: float(v) for k, v in data.get("mean", {}).items()},
                   scale={k: float(v) for k, v in data.get("scale", {}).items()})


# Hand-set fallbacks, used when no weights file is present: each leans on the one or two
# features that decide most cases, with thresholds as cautious as the recipe says.
HAND_CANDIDATE = Logistic(coef={"best_score": 4.0, "named_outlet_share": 2.0,
                                "passage_share": 2.0, "first_position": 1.0,
                                "in_question": -4.0, "person_asked_multiword": 1.0,
                                "unit_matches": 1.5, "quantified": 1.5, "is_outlet": -2.0},
                          intercept=-3.5, threshold=RECIPE.lead_threshold)
HAND_VERDICT = Logistic(coef={"negation_mismatch": -4.0, "claims_inconsistency": -1.0,
                              "date_order": 1.0, "support_min": 2.0},
                        intercept=0.5, threshold=0.5)
HAND_ABSTAIN = Logistic(coef={"missing_terms": 1.5, "missing_word_share": 4.0,
                              "best_score": -10.0},
                        intercept=1.5, threshold=0.5)


@dataclass(frozen=True)
class AnswerModels:
    """The candidate, verdict and abstention models of one weights file (or the fallbacks)."""

    candidate: Logistic = HAND_CANDIDATE
    verdict: Logistic = HAND_VERDICT
    abstain: Logistic = HAND_ABSTAIN
    source: str = "hand-set"
    # The kinds of question the learned models saw enough of (`RECIPE.train_min_questions`):
    # candidate kinds ("person", "number", ...) and verdict kinds ("named": claims of named
    # outlets; "single": one claim). Other kinds use the hand-set model: a model fitted on
    # names says nothing about numbers, and one fitted on two outlets' claims nothing about
    # a single claim.
    trained: tuple[str, ...] = ()

    def candidate_for(self, kind: str) -> Logistic:
        return self.candidate if kind in self.trained else HAND_CANDIDATE

    def verdict_for(self, names_outlets: bool) -> Logistic:
        return self.verdict if ("named" if names_outlets else "single") in self.trained \
            else HAND_VERDICT

    def to_json(self, **extra) -> str:
        return json.dumps({"format": FORMAT, **extra, "trained": list(self.trained),
                           "candidate": self.candidate.to_dict(),
                           "verdict": self.verdict.to_dict(), "abstain": self.abstain.to_dict()},
                          indent=1, sort_keys=False)

    @classmethod
    def load(cls, path: str | Path | None = None) -> AnswerModels:
        """The models of `path` (default: the shipped `weights.json`); the hand-set ones,
        with a log line, when the file is missing."""
        path = Path(path) if path else WEIGHTS_PATH
        if not path.exists():
            log.info("no answer weights at %s: using the hand-set ones", path)
            return cls()
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"{path} is not an answer weights file (format "
                             f"{data.get('format')!r}, expected {FORMAT!r}): retrain with "
                             f"python -m newscite.eval.train_answerer")
        return cls(candidate=Logistic.from_dict(data["candidate"]),
                   verdict=Logistic.from_dict(data["verdict"]),
                   abstain=Logistic.from_dict(data["abstain"]), source=str(path),
                   trained=tuple(data.get("trained", ())))
