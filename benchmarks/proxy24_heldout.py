#!/usr/bin/env python3
"""Does any automatic proxy agree with the blind viewers on sets it was not picked on? (issue 24, item 1)

Reads ``blind24/proxies_r12.json`` (``proxy24_features.py``: every blind-judged class image, rounds 7-11, with
its candidate features) and evaluates every way of turning features into a verdict ("the viewer will name the
class in the top 5") **held out**: the rule is picked on all sets but one and scored on the one left out, and
the held-out verdicts of all folds are pooled. Two splits, fixed before any result was seen:

* ``set``: leave one set out. A set and its second viewer (``set_r11_d`` showed ``set_r11_a``'s images) are one
  group, and so are ``set_r9_a`` and ``set_r9_c`` (two identical images), so no image is in both halves.
* ``round``: leave one round out (round 7 = ``set1``-``set5``, then r8, r9, r10, r11): the proxy must carry over
  to a recipe it has never seen.

The candidates (each fitted on the training folds only):

* ``base``: the training majority ("never named").
* ``rule:<feature>``: one feature, a threshold and a direction chosen for the best training balanced accuracy.
* ``best-rule``: the single best such rule over all features, chosen inside each fold (the honest estimate of
  "search the features and keep the best", which round 11 did in-sample).
* ``best-ranker``: the feature (and sign) that orders the training sets' images best within each set (the
  pairs below), chosen inside each fold; its verdict uses that feature's training threshold.
* ``logit:<name>``: a logistic regression (standardised features, class-balanced weights, L2 with C = 1) on a
  fixed set of 2-4 features written down before the evaluation (``PRESET``).
* ``logit-forward``: a logistic regression whose 1-3 features are chosen inside each fold by forward
  selection on an inner leave-one-group-out log-loss (nested: the held-out set plays no part in the choice).

Reported per candidate, over the pooled held-out verdicts: agreement (k/n), balanced accuracy, and a 95 %
interval from a bootstrap over groups (sets resampled with replacement, 1000 draws), and the difference of
agreement from the base rate with its own bootstrap interval; for candidates with a score, the AUC of the pooled
held-out scores and the share of within-set pairs (a named and an unnamed image of the same set) that the
held-out score orders right (every set has one image per class, so these pairs are of two classes: a ranking of
classes within a recipe, not of two renders of one class), which does not depend on a threshold carrying over
between recipes. A proxy "beats the base rate clearly" only if
that difference's interval is above 0 under both splits.

    python benchmarks/proxy24_heldout.py                  # both splits, top-5 truth
    python benchmarks/proxy24_heldout.py --top1           # the first guess as the truth
    python benchmarks/proxy24_heldout.py --json out.json  # also write the table
    python benchmarks/proxy24_heldout.py --skip-sets set_r12_a_cs231n_ten   # round 12's table: rounds 7-11 only
"""
from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent / "blind24"
ROWS = HERE / "proxies_r12.json"
#: feature sets of the pre-specified logistic regressions (written before the evaluation was run)
PRESET = {
    "lite2-small+vgg": ("lite2_small_logp", "vgg_gram_near"),
    "lite-agree+grain+colour": ("lite_mean_logrank", "spec_grain", "colourfulness"),
    "degraded+vgg+centre+slope": ("lite_degraded_mean_logrank", "vgg_gram_near", "sal_centre", "spec_slope"),
    "lite2-blur+lite0": ("lite2_blur_logp", "lite0_plain_logp"),
}
NOT_FEATURES = {"set", "image", "png", "cls", "target", "recipe", "strict_hit", "basic_hit", "guesses"}
#: images shown in two sets or shared between sets: one group each
MERGE = {"set_r11_d_canvas_ten_second_viewer": "set_r11_a_canvas_ten", "set_r9_c_random20": "set_r9_a_maco_centre_coarse"}


def load(path: Path = ROWS, k: int = 5, skip=()):
    rows = [r for r in json.loads(Path(path).read_text()) if r["set"] not in skip]
    names = sorted(n for n, v in rows[0].items() if n not in NOT_FEATURES and isinstance(v, (int, float)))
    x = np.array([[float(r[n]) for n in names] for r in rows])
    rank_cols = [i for i, n in enumerate(names) if n.endswith("_rank")]
    x[:, rank_cols] = np.log(x[:, rank_cols])  # ranks enter as log ranks (thresholds are unchanged)
    y = np.array([(r["strict_hit"] or 99) <= k for r in rows])
    sets = [r["set"] for r in rows]
    return rows, names, x, y, sets


def round_of(name: str) -> str:
    return "r7" if name[3:4].isdigit() else name.split("_")[1]


def groups(sets, split: str) -> np.ndarray:
    if split == "set":
        return np.array([MERGE.get(s, s) for s in sets])
    if split == "round":
        return np.array([round_of(s) for s in sets])
    raise ValueError(f"split must be 'set' or 'round', got {split!r}")


def balanced(pred, y) -> float:
    pred, y = np.asarray(pred, bool), np.asarray(y, bool)
    pos, neg = y.sum(), (~y).sum()
    return 0.5 * ((pred & y).sum() / max(pos, 1) + (~pred & ~y).sum() / max(neg, 1))


def fit_rule(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """``(sign, cut, training balanced accuracy)``: pass when ``sign * x >= cut``."""
    best = (1.0, -np.inf, 0.5)
    for sign in (1.0, -1.0):
        v = sign * x
        cuts = np.unique(v)
        for c in cuts:
            b = balanced(v >= c, y)
            if b > best[2] + 1e-12:
                best = (sign, float(c), b)
    return best


def _logit(xtr, ytr):
    from sklearn.linear_model import LogisticRegression

    mu, sd = xtr.mean(0), xtr.std(0) + 1e-9
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit((xtr - mu) / sd, ytr)
    return lambda xs: model.predict_proba((xs - mu) / sd)[:, 1]


def _inner_logloss(x, y, g, cols, folds: int = 5) -> float:
    """Class-balanced log-loss of a logistic regression on ``cols``, cross-validated over ``folds`` folds of
    whole groups (groups dealt round-robin in sorted order)."""
    total, n = 0.0, 0
    ids = np.unique(g)
    fold_of = {gid: i % folds for i, gid in enumerate(ids)}
    fold = np.array([fold_of[v] for v in g])
    for held in range(min(folds, len(ids))):
        te = fold == held
        if y[~te].all() or not y[~te].any():
            continue
        p = np.clip(_logit(x[~te][:, cols], y[~te])(x[te][:, cols]), 1e-6, 1 - 1e-6)
        # class-balanced log-loss, the quantity the balanced fit minimises
        w = np.where(y[te], 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
        total += float(-(w * (y[te] * np.log(p) + (~y[te]) * np.log(1 - p))).sum())
        n += int(te.sum())
    return total / max(n, 1)


def forward_pool(names) -> list[int]:
    """The features forward selection may pick: no per-copy ranks (each has its log-probability) and no
    per-layer VGG distances (their mean is in)."""
    return [j for j, n in enumerate(names) if not (n.endswith("_rank") and n.startswith("lite") and n.count("_") == 2)
            and not (n.startswith("vgg_relu"))]


def forward_select(x, y, g, names, max_features: int = 3, pool=None) -> list[int]:
    pool = forward_pool(names) if pool is None else list(pool)
    chosen: list[int] = []
    best = float(np.log(2))  # the class-balanced log-loss of a constant p = 0.5: a feature must beat chance
    for _ in range(max_features):
        scores = [(_inner_logloss(x, y, g, chosen + [j]), j) for j in pool if j not in chosen]
        score, j = min(scores)
        if score >= best - 1e-4:
            break
        best, chosen = score, chosen + [j]
    return chosen


def heldout(names, x, y, g, sets, pool=None):
    """Held-out verdicts ``{candidate: (pred bool array, score float array or None, picks per fold)}``."""
    out: dict[str, tuple] = {}
    n = len(y)

    def slot(name, scored=False):
        if name not in out:
            out[name] = (np.zeros(n, bool), np.full(n, np.nan) if scored else None, [])
        return out[name]

    for held in np.unique(g):
        te, tr = g == held, g != held
        pred, _, picks = slot("base")
        pred[te] = y[tr].mean() > 0.5
        picks.append("named" if y[tr].mean() > 0.5 else "never named")
        fits = []
        for j, name in enumerate(names):
            sign, cut, b = fit_rule(x[tr, j], y[tr])
            pred, score, picks = slot(f"rule:{name}", True)
            pred[te] = sign * x[te, j] >= cut
            score[te] = sign * x[te, j]
            picks.append(f"{'>=' if sign > 0 else '<='} {sign * cut:.3g}")
            fits.append((b, j, sign, cut))
        ranks = []
        for j in range(len(names)):
            good, total = pairs(x[tr, j], y[tr], sets[tr])
            c = good / max(total, 1)
            ranks.append((max(c, 1 - c), j, 1.0 if c >= 0.5 else -1.0))
        c, jr, sign_r = max(ranks)
        pred, score, picks = slot("best-ranker", True)
        score[te] = sign_r * x[te, jr]
        pred[te] = fits[jr][2] * x[te, jr] >= fits[jr][3]
        picks.append(f"{'+' if sign_r > 0 else '-'}{names[jr]} (train within-set {c:.2f})")
        b, j, sign, cut = max(fits)
        pred, _, picks = slot("best-rule")
        pred[te] = sign * x[te, j] >= cut
        picks.append(f"{names[j]} {'>=' if sign > 0 else '<='} {sign * cut:.3g} (train {b:.2f})")
        for label, feats in PRESET.items():
            cols = [names.index(f) for f in feats]
            p = _logit(x[tr][:, cols], y[tr])(x[te][:, cols])
            pred, score, picks = slot(f"logit:{label}", True)
            pred[te], score[te] = p >= 0.5, p
            picks.append("fixed")
        cols = forward_select(x[tr], y[tr], g[tr], names, pool=pool)
        pred, score, picks = slot("logit-forward", True)
        if cols:
            p = _logit(x[tr][:, cols], y[tr])(x[te][:, cols])
            pred[te], score[te] = p >= 0.5, p
        else:
            pred[te], score[te] = y[tr].mean() > 0.5, y[tr].mean()
        picks.append("+".join(names[c] for c in cols) or "(none)")
    return out


def pairs(score, y, sets) -> tuple[float, int]:
    """Within-set ranking: over every (named, unnamed) pair of images judged in the same set, how many the
    score orders right (ties count one half), and how many pairs. Each set has one image per class, so each pair
    is of two classes of the same recipe."""
    score, y, sets = np.asarray(score, float), np.asarray(y, bool), np.asarray(sets)
    good, total = 0.0, 0
    for s in np.unique(sets):
        m = sets == s
        pos, neg = score[m & y], score[m & ~y]
        if len(pos) and len(neg):
            d = pos[:, None] - neg[None, :]
            good += float((d > 0).sum() + 0.5 * (d == 0).sum())
            total += d.size
    return good, total


def auc(score, y) -> float:
    """The area under the ROC curve (Mann-Whitney: mid-ranks, ties count one half)."""
    from scipy.stats import rankdata

    y = np.asarray(y, bool)
    pos, n = int(y.sum()), len(y)
    if not 0 < pos < n:
        return float("nan")
    r = rankdata(score)
    return float((r[y].sum() - pos * (pos + 1) / 2) / (pos * (n - pos)))


def bootstrap(pred, base, y, g, score=None, sets=None, draws: int = 1000, seed: int = 0):
    """95 % intervals of agreement, balanced accuracy, agreement minus the base rate's and (with ``score``) the
    AUC of the held-out scores, over groups (sets or rounds resampled with replacement)."""
    rng = np.random.default_rng(seed)
    ids = np.unique(g)
    members = [np.flatnonzero(g == i) for i in ids]
    if score is not None and sets is not None:
        pair_cache = [pairs(score[m], y[m], sets[m]) for m in members]
    agree, bal, diff, aucs, within = [], [], [], [], []
    for _ in range(draws):
        picked = rng.integers(0, len(ids), len(ids))
        idx = np.concatenate([members[i] for i in picked])
        if score is not None and sets is not None:
            # each drawn group's pairs (a group drawn twice counts twice)
            good = total = 0.0
            for i in picked:
                gd, tt = pair_cache[i]
                good, total = good + gd, total + tt
            if total:
                within.append(good / total)
        a, b = (pred[idx] == y[idx]).mean(), (base[idx] == y[idx]).mean()
        agree.append(a)
        bal.append(balanced(pred[idx], y[idx]))
        diff.append(a - b)
        if score is not None and 0 < y[idx].sum() < len(idx):
            aucs.append(auc(score[idx], y[idx]))
    q = lambda v: tuple(np.percentile(v, [2.5, 97.5])) if v else (float("nan"),) * 2  # noqa: E731
    return q(agree), q(bal), q(diff), q(aucs), q(within)


def evaluate(path: Path = ROWS, k: int = 5, splits=("set", "round"), show: int = 12, pool=None, skip=()) -> dict:
    rows, names, x, y, sets = load(path, k, skip)
    print(f"{len(y)} judged images ({len(set(r['png'] for r in rows))} distinct PNGs) from {len(set(sets))} sets; "
          f"named in the top {k}: {int(y.sum())}; never named: {int((~y).sum())} "
          f"({(~y).mean():.0%}); {len(names)} features")
    result = {}
    sets = np.array(sets)
    for split in splits:
        g = groups(sets, split)
        res = heldout(names, x, y, g, sets, pool=pool)
        base = res["base"][0]
        table = []
        for cand, (pred, score, picks) in res.items():
            (a_lo, a_hi), (b_lo, b_hi), (d_lo, d_hi), auc_ci, within_ci = bootstrap(pred, base, y, g, score, sets)
            good, total = pairs(score, y, sets) if score is not None else (0, 0)
            table.append(dict(candidate=cand, agree=int((pred == y).sum()), n=len(y),
                              balanced=balanced(pred, y), agree_ci=(a_lo, a_hi), balanced_ci=(b_lo, b_hi),
                              minus_base=int((pred == y).sum() - (base == y).sum()), minus_base_ci=(d_lo, d_hi),
                              auc=auc(score, y) if score is not None else None, auc_ci=auc_ci,
                              within=good / total if total else None, within_ci=within_ci, within_pairs=total,
                              picks=picks))
        table.sort(key=lambda t: (-t["balanced"], -t["agree"]))
        result[split] = table
        print(f"\n### held out by {split} ({len(np.unique(g))} folds)\n")
        print("| candidate | agrees (held out) | 95 % CI | minus base (images) | 95 % CI of the difference "
              "| balanced acc. | 95 % CI | AUC (95 % CI) | within-set pairs right (95 % CI) |")
        print("|---|---:|---|---:|---|---:|---|---|---|")
        keep = [t for t in table if not t["candidate"].startswith("rule:")][:show] + \
            [t for t in table if t["candidate"].startswith("rule:")][:show]
        for t in keep:
            print(f"| {t['candidate']} | {t['agree']}/{t['n']} ({t['agree'] / t['n']:.0%}) | "
                  f"{t['agree_ci'][0]:.0%}-{t['agree_ci'][1]:.0%} | {t['minus_base']:+d} | "
                  f"{t['minus_base_ci'][0] * 100:+.0f} to {t['minus_base_ci'][1] * 100:+.0f} pts | "
                  f"{t['balanced']:.2f} | {t['balanced_ci'][0]:.2f}-{t['balanced_ci'][1]:.2f} | "
                  + (f"{t['auc']:.2f} ({t['auc_ci'][0]:.2f}-{t['auc_ci'][1]:.2f}) | {t['within']:.0%} "
                     f"({t['within_ci'][0]:.0%}-{t['within_ci'][1]:.0%}) |" if t["auc"] is not None else "- | - |"))
        for t in table:
            if t["candidate"] in ("best-rule", "best-ranker", "logit-forward"):
                print(f"{t['candidate']} picks per fold: " + "; ".join(t["picks"]))
    return result


def describe(path: Path = ROWS, k: int = 5, show: int = 15, skip=()) -> None:
    """Descriptive (not a held-out score): each feature's AUC pooled and within sets (mean over sets)."""
    rows, names, x, y, sets = load(path, k, skip)
    sets = np.array(sets)
    out = []
    for j, name in enumerate(names):
        pooled = auc(x[:, j], y)
        within = [auc(x[sets == s, j], y[sets == s]) for s in np.unique(sets)]
        within = [w for w in within if not np.isnan(w)]
        out.append((abs(pooled - 0.5), name, pooled, float(np.mean(within)), len(within)))
    out.sort(reverse=True)
    print("\n| feature | AUC pooled | mean AUC within a set (sets with both verdicts) |\n|---|---:|---:|")
    for _, name, pooled, within, m in out[:show]:
        print(f"| {name} | {pooled:.2f} | {within:.2f} ({m}) |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default=str(ROWS))
    parser.add_argument("--top1", action="store_true", help="the truth is a first-guess hit")
    parser.add_argument("--json", default=None, help="write the tables here")
    parser.add_argument("--show", type=int, default=12)
    parser.add_argument("--skip-sets", nargs="*", default=(), help="leave these sets out (e.g. a later round)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    k = 1 if args.top1 else 5
    result = evaluate(Path(args.rows), k, show=args.show, skip=tuple(args.skip_sets))
    describe(Path(args.rows), k, skip=tuple(args.skip_sets))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
