"""Which uncertain input matters most: Morris screening with SALib [salib] [morris-1991].

``netbootsim plan STUDY.yaml --sensitivity`` takes the study's ``sensitivity.factors``
(scenario fields with a low and a high value: a POST time's median, the DHCP server's
time per packet, a link's bandwidth...) and asks how much each moves the chosen metric
(``sensitivity.metric``, p99 by default) of the base scenario with the study's ``set``.

Morris' method [morris-1991] walks ``trajectories`` random one-at-a-time paths through a
grid of ``levels`` levels per factor (SALib's ``morris.sample``, seeded); each step
changes one factor and gives one *elementary effect* (the change in the metric over the
change in the factor, the factor scaled to [0, 1]). Per factor: ``mu_star`` (the mean
absolute effect: its overall influence, in the metric's units), ``sigma`` (their spread:
interactions and non-linearity) and ``mu_star_conf`` (a bootstrap 95 % interval of
``mu_star``), ranked by ``mu_star``. ``trajectories × (factors + 1)`` runs, each one
replication (replication 0: the same servers' draws at every point, so the effects are
the inputs', not the draws'). A factor written as a whole number (workers, a cap) is
rounded to one in the run; its effect is still measured against the unrounded level.
"""

from __future__ import annotations

import math

import numpy as np

from .evaluate import Evaluator
from .spec import Design, Study

__all__ = ["morris"]


def morris(study: Study, ev: Evaluator) -> dict:
    """Run the Morris design and analyse it; the ranking, in ``summary.json``'s form."""
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    sens = study.sensitivity
    assert sens is not None
    factors = study.factors
    problem = {"num_vars": len(factors), "names": [f.name for f in factors],
               "bounds": [[f.low, f.high] for f in factors]}
    x = sample.sample(problem, sens["trajectories"], num_levels=sens["levels"],
                      seed=study.seed)
    designs = []
    for i, row in enumerate(x):
        sets = (*study.base, *(f.override(v) for f, v in zip(factors, row, strict=True)))
        designs.append(Design(study.grid_size + i, (), (f"morris #{i}",), tuple(sets),
                              f"morris #{i}"))
    results = ev.evaluate(designs, reps=1)
    y = np.array([r.values(sens["metric"])[0] for r in results], dtype=float)
    if not np.isfinite(y).all():
        missing = int((~np.isfinite(y)).sum())
        why = ("too few servers got ready to reach that share of the fleet"
               if sens["metric"].startswith("fleet_p") else "no server got ready")
        return {"metric": sens["metric"], "runs": len(y), "factors": [],
                "error": f"{missing} of the {len(y)} runs have no {sens['metric']} ({why}): "
                         "the ranking cannot be computed; narrow the factors' ranges, or "
                         "rank a metric every run has (ready_fraction, p99)"}
    si = analyze.analyze(problem, x, y, num_levels=sens["levels"], seed=study.seed,
                         print_to_console=False)
    rows = []
    for k, f in enumerate(factors):
        rows.append({"factor": f.name, "field": f.field, "low": f.low, "high": f.high,
                     "unit": f.unit, "mu_star": float(si["mu_star"][k]),
                     "mu_star_conf": float(si["mu_star_conf"][k]),
                     "sigma": float(si["sigma"][k]), "mu": float(si["mu"][k])})
    rows.sort(key=lambda r: (-r["mu_star"] if math.isfinite(r["mu_star"]) else math.inf,
                             r["factor"]))
    for rank, r in enumerate(rows, 1):
        r["rank"] = rank
    return {"metric": sens["metric"], "method": "morris", "trajectories": sens["trajectories"],
            "levels": sens["levels"], "runs": len(y), "factors": rows}
