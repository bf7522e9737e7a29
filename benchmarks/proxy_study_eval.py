"""The evaluation half of ``proxy_study.py`` (issue 24, item 1, round 17): choose on old rounds, test on new ones.

Every choice (which feature, its direction, its threshold, which features enter a logistic regression, its
weights and cut) is made on the verdicts of rounds <= ``train_max``; the verdicts of the later rounds are only
scored. Candidates:

* ``lite2 rank <= k`` on the image: the old judge, ``k`` chosen on the training rounds (and ``k = 5``, the
  guide's rule, unfitted);
* every single derived feature (direction and cut fitted on training); the one with the best training ROC AUC is
  *the* single-feature pick, the others are listed for the record only;
* a logistic regression on standardised features chosen by forward selection (up to 4), each step judged by
  leave-one-round-out cross-validated log loss inside the training rounds (``logit-forward``);
* a logistic regression on four features written down before any evaluation was run (``logit-fixed``): Lite2's
  log p on the image, the panel's mean log p over the degraded copies, the share of (network, copy) pairs whose
  top class is the target, colourfulness.

On the test rounds: agreement with the viewer (named in five, strict) against the base rate (the training
majority, "never named"), balanced accuracy, ROC AUC, each with a 95 % bootstrap interval over PNGs (a PNG's
verdicts stay together; and over sets), the accuracy gain over the base rate and the AUC gain over Lite2 alone
(paired); per recipe; the share of (named, unnamed) pairs of one set that the score orders right (``within-set``)
and of one class across sets (``same class``).

**The bar, written down before the first evaluation on the test rounds** (committed with this file): a candidate
"clearly beats" Lite2 alone and the base rate when, on the test rounds with the strict named-in-five truth, (a) its
accuracy gain over the base rate has a 95 % bootstrap interval above 0, and (b) its AUC gain over Lite2's rank on
the image has a 95 % bootstrap interval above 0. Only ``logit-forward``, ``logit-fixed`` and the best single
feature are candidates for shipping; the per-feature list is for the record.
"""
from __future__ import annotations

import json
import math

import numpy as np

NETS = ("lite0", "lite1", "lite2")
DEGRADED = ("grey", "blur", "small", "tiny", "down64")
FRAMED = ("flip", "crop_tl", "crop_tr", "crop_bl", "crop_br", "crop_c")
ALL = ("plain",) + DEGRADED + FRAMED
FIXED = ("lite2_plain_logp", "panel_degraded_logp", "stability_target", "colourfulness")
BOOT = 2000


def photo_stats() -> dict:
    """Means and spreads of the picture statistics over the package's photos (the natural reference)."""
    from proxy24_features import photos   # round 12's reference photos: square centre crops at 224 px
    from proxy_study import picture_stats

    stats = [picture_stats(t) for t in photos(224)]
    return {k: (float(np.mean([s[k] for s in stats])), float(np.std([s[k] for s in stats]) + 1e-9))
            for k in stats[0]}


def derive(f: dict, photos: dict) -> dict:
    """The candidate features of one PNG from its raw measurements (higher = 'more likely named' is *not*
    assumed; the direction is fitted)."""
    t = f["target"]
    d = {}
    for n in NETS:
        d[f"{n}_plain_logp"] = f[f"{n}/plain/logp"]
        d[f"{n}_plain_logrank"] = math.log(f[f"{n}/plain/rank"])
        for c in ALL[1:]:
            d[f"{n}_{c}_logp"] = f[f"{n}/{c}/logp"]
        d[f"{n}_degraded_logp"] = float(np.mean([f[f"{n}/{c}/logp"] for c in DEGRADED]))
        d[f"{n}_framed_logp"] = float(np.mean([f[f"{n}/{c}/logp"] for c in FRAMED]))
    pairs = [(n, c) for n in NETS for c in ALL]
    d["panel_all_logp"] = float(np.mean([f[f"{n}/{c}/logp"] for n, c in pairs]))
    d["panel_degraded_logp"] = float(np.mean([f[f"{n}/{c}/logp"] for n in NETS for c in DEGRADED]))
    d["panel_framed_logp"] = float(np.mean([f[f"{n}/{c}/logp"] for n in NETS for c in FRAMED]))
    d["panel_mean_logrank"] = float(np.mean([math.log(f[f"{n}/{c}/rank"]) for n, c in pairs]))
    d["panel_top5_share"] = float(np.mean([f[f"{n}/{c}/rank"] <= 5 for n, c in pairs]))
    # stability: how often the class (or the image's own first answer) survives the copies and the networks
    d["stability_target"] = float(np.mean([f[f"{n}/{c}/top"] == t for n, c in pairs]))
    d["stability_lite2_top"] = float(np.mean([f[f"{n}/{c}/top"] == f["lite2/plain/top"] for n, c in pairs]))
    d["nets_agree_plain"] = float(len({f[f"{n}/plain/top"] for n in NETS}) == 1)
    d["nets_agree_degraded"] = float(np.mean([len({f[f"{n}/{c}/top"] for n in NETS}) == 1 for c in DEGRADED]))
    d["panel_confidence"] = float(np.mean([f[f"{n}/{c}/toplogp"] for n, c in pairs]))
    d["panel_margin"] = float(np.mean([f[f"{n}/{c}/logp"] - f[f"{n}/{c}/toplogp"] for n, c in pairs]))
    for k in ("colourfulness", "contrast", "saturation", "spec_slope", "spec_fine", "edge_density",
              "grad_centre_border", "dev_centre_border"):
        d[k] = f[k]
        d[f"{k}_photo_z"] = abs(f[k] - photos[k][0]) / photos[k][1]
    return d


# ---------------------------------------------------------------------------------------------- metrics
def auc(score: np.ndarray, truth: np.ndarray) -> float:
    """ROC AUC (ties count a half); nan without both kinds."""
    pos, neg = score[truth], score[~truth]
    if not len(pos) or not len(neg):
        return float("nan")
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def balanced(passed: np.ndarray, truth: np.ndarray) -> float:
    return 0.5 * (passed[truth].mean() + (~passed[~truth]).mean())


def within_set(score: np.ndarray, truth: np.ndarray, sets: np.ndarray) -> tuple[int, int]:
    right = total = 0
    for s in np.unique(sets):
        m = sets == s
        pos, neg = score[m & truth], score[m & ~truth]
        diff = pos[:, None] - neg[None, :]
        right += (diff > 0).sum() + 0.5 * (diff == 0).sum()
        total += diff.size
    return right, total


def best_cut(score: np.ndarray, truth: np.ndarray) -> float:
    """The cut ``score >= cut`` with the most training agreements (ties: the higher balanced accuracy)."""
    cands = np.unique(score)
    best, key = np.inf, (int((~truth).sum()), 0.5)
    for c in cands:
        p = score >= c
        k = (int((p == truth).sum()), balanced(p, truth))
        if k > key:
            best, key = c, k
    return float(best)


class Candidate:
    def __init__(self, name: str, score_train, score_test, cut: float, note: str = ""):
        self.name, self.tr, self.te, self.cut, self.note = name, np.asarray(score_train, float), \
            np.asarray(score_test, float), cut, note


def oriented(x_tr, x_te, y_tr):
    """Flip a feature's sign so that higher goes with 'named' on the training rounds."""
    sign = 1.0 if auc(x_tr, y_tr) >= 0.5 else -1.0
    return sign * x_tr, sign * x_te, sign


def loro_logloss(X, y, groups, cols, C=1.0) -> float:
    from sklearn.linear_model import LogisticRegression

    loss = 0.0
    for g in np.unique(groups):
        tr, te = groups != g, groups == g
        mu, sd = X[tr][:, cols].mean(0), X[tr][:, cols].std(0) + 1e-9
        m = LogisticRegression(C=C, max_iter=2000).fit((X[tr][:, cols] - mu) / sd, y[tr])
        p = np.clip(m.predict_proba((X[te][:, cols] - mu) / sd)[:, 1], 1e-6, 1 - 1e-6)
        loss -= float(np.sum(y[te] * np.log(p) + (1 - y[te]) * np.log(1 - p)))
    return loss / len(y)


def fit_logit(X_tr, y_tr, X_te, cols):
    from sklearn.linear_model import LogisticRegression

    mu, sd = X_tr[:, cols].mean(0), X_tr[:, cols].std(0) + 1e-9
    m = LogisticRegression(C=1.0, max_iter=2000).fit((X_tr[:, cols] - mu) / sd, y_tr)
    return (m.predict_proba((X_tr[:, cols] - mu) / sd)[:, 1], m.predict_proba((X_te[:, cols] - mu) / sd)[:, 1],
            dict(zip(cols, (m.coef_[0] / sd).tolist())))


def forward(X, y, groups, names, k_max=4):
    chosen, path, best = [], [], np.inf
    while len(chosen) < k_max:
        trials = [(loro_logloss(X, y, groups, [names.index(c) for c in chosen + [n]]), n)
                  for n in names if n not in chosen]
        loss, n = min(trials)
        if loss >= best - 1e-4:
            break
        chosen.append(n)
        best = loss
        path.append((n, loss))
    return chosen, path


# ------------------------------------------------------------------------------------------- evaluation
def evaluate(rows: list[dict], feats: dict[str, dict], train_max: int = 14, truth_key: str = "top5") -> dict:
    photos = photo_stats()
    derived = {p: derive(f, photos) for p, f in feats.items()}
    names = sorted(next(iter(derived.values())))
    tr = [r for r in rows if r["round"] <= train_max]
    te = [r for r in rows if r["round"] > train_max]
    X_tr = np.array([[derived[r["png"]][n] for n in names] for r in tr])
    X_te = np.array([[derived[r["png"]][n] for n in names] for r in te])
    y_tr = np.array([bool(r[truth_key]) for r in tr])
    y_te = np.array([bool(r[truth_key]) for r in te])
    g_tr = np.array([r["round"] for r in tr])
    if len(np.unique(g_tr)) < 3:                 # too few rounds to leave one out: leave one set out
        g_tr = np.array([r["set"] for r in tr])
    col = {n: i for i, n in enumerate(names)}
    print(f"truth: {truth_key}; training rounds <= {train_max}: {len(tr)} verdicts ({y_tr.sum()} named), "
          f"{len({r['png'] for r in tr})} PNGs; test: {len(te)} verdicts ({y_te.sum()} named), "
          f"{len({r['png'] for r in te})} PNGs")

    cands = []
    # the old judge: Lite2's rank on the image
    lr_tr, lr_te = -X_tr[:, col["lite2_plain_logrank"]], -X_te[:, col["lite2_plain_logrank"]]
    cands.append(Candidate("Lite2 rank on the image, k fitted", lr_tr, lr_te, best_cut(lr_tr, y_tr)))
    cands.append(Candidate("Lite2 rank on the image <= 5 (the guide's rule)", lr_tr, lr_te, -math.log(5)))
    # single features
    singles = []
    for n in names:
        a, b, s = oriented(X_tr[:, col[n]], X_te[:, col[n]], y_tr)
        singles.append((auc(a, y_tr), n, a, b, s))
    singles.sort(key=lambda t: -t[0])
    _, n, a, b, s = singles[0]
    cands.append(Candidate(f"best single feature on training: {n} ({'+' if s > 0 else '-'})", a, b,
                           best_cut(a, y_tr)))
    # logistic regressions
    fixed = [col[n] for n in FIXED]
    p_tr, p_te, w = fit_logit(X_tr, y_tr, X_te, fixed)
    cands.append(Candidate("logit-fixed (" + ", ".join(FIXED) + ")", p_tr, p_te, best_cut(p_tr, y_tr),
                           note=json.dumps({k: round(v, 3) for k, v in w.items()})))
    chosen, path = forward(X_tr, y_tr, g_tr, names)
    p_tr, p_te, w = fit_logit(X_tr, y_tr, X_te, [col[c] for c in chosen])
    cands.append(Candidate("logit-forward (" + ", ".join(chosen) + ")", p_tr, p_te, best_cut(p_tr, y_tr),
                           note=json.dumps({k: round(v, 3) for k, v in w.items()})))
    print("forward selection (leave-one-round-out log loss):", [(c, round(l, 4)) for c, l in path])

    # bootstrap over test PNGs
    pngs = np.array([r["png"] for r in te])
    uniq = np.unique(pngs)
    idx_of = {p: np.flatnonzero(pngs == p) for p in uniq}
    rng = np.random.default_rng(17)
    draws = [np.concatenate([idx_of[p] for p in rng.choice(uniq, len(uniq))]) for _ in range(BOOT)]
    sets_te = np.array([r["set"] for r in te])
    cls_te = np.array([r["cls"] for r in te])
    uset = np.unique(sets_te)
    set_draws = [np.concatenate([np.flatnonzero(sets_te == x) for x in rng.choice(uset, len(uset))])
                 for _ in range(BOOT)]
    base_te = int((~y_te).sum())
    lite2 = cands[0].te

    def ci(values):
        v = np.array([x for x in values if not np.isnan(x)])
        return [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]

    result = dict(truth=truth_key, train_max=train_max, n_train=len(tr), n_test=len(te), named_test=int(y_te.sum()),
                  base_test=base_te, candidates=[])
    print(f"\ntest base rate (never named, the training majority): {base_te}/{len(te)} ({base_te / len(te):.0%})")
    print("| candidate | cut (train) | train agrees | test agrees | minus base (95 % CI) | balanced acc. | "
          "test AUC (95 % CI) | AUC minus Lite2's (95 % CI) | within-set pairs |")
    print("|---|---:|---:|---:|---|---:|---|---|---:|")
    for c in cands:
        pas_tr, pas_te = c.tr >= c.cut, c.te >= c.cut
        agree = int((pas_te == y_te).sum())
        gain = [int((pas_te[d] == y_te[d]).sum()) - int((~y_te[d]).sum()) for d in draws]
        a = auc(c.te, y_te)
        a_ci = ci([auc(c.te[d], y_te[d]) for d in draws])
        da = ci([auc(c.te[d], y_te[d]) - auc(lite2[d], y_te[d]) for d in draws])
        ws = within_set(c.te, y_te, sets_te)
        sc = within_set(c.te, y_te, cls_te)           # the same class in another set (recipe or viewer)
        gain_set = [int((pas_te[d] == y_te[d]).sum()) - int((~y_te[d]).sum()) for d in set_draws]
        da_set = ci([auc(c.te[d], y_te[d]) - auc(lite2[d], y_te[d]) for d in set_draws])
        row = dict(name=c.name, cut=c.cut, note=c.note, train_agree=int((pas_tr == y_tr).sum()),
                   test_agree=agree, gain=agree - base_te, gain_ci=ci(gain), balanced=balanced(pas_te, y_te),
                   auc=a, auc_ci=a_ci, auc_minus_lite2_ci=da, within_set=[float(ws[0]), int(ws[1])],
                   gain_ci_by_set=ci(gain_set), auc_minus_lite2_ci_by_set=da_set, same_class=[float(sc[0]), int(sc[1])],
                   passed_named=int((pas_te & y_te).sum()), passed_unnamed=int((pas_te & ~y_te).sum()))
        # per recipe
        row["per_recipe"] = {}
        for rec in sorted({r["recipe"] for r in te}):
            m = np.array([r["recipe"] == rec for r in te])
            row["per_recipe"][rec] = dict(n=int(m.sum()), named=int(y_te[m].sum()),
                                          agree=int((pas_te[m] == y_te[m]).sum()), base=int((~y_te[m]).sum()),
                                          auc=auc(c.te[m], y_te[m]))
        result["candidates"].append(row)
        print(f"| {c.name} | {c.cut:.3g} | {row['train_agree']}/{len(tr)} | "
              f"{agree}/{len(te)} ({agree / len(te):.0%}) | "
              f"{agree - base_te:+d} ({row['gain_ci'][0]:+.0f} to {row['gain_ci'][1]:+.0f}) | {row['balanced']:.2f} | "
              f"{a:.2f} ({a_ci[0]:.2f}-{a_ci[1]:.2f}) | {a - auc(lite2, y_te):+.2f} ({da[0]:+.2f} to {da[1]:+.2f}) | "
              f"{ws[0] / max(ws[1], 1):.0%} of {ws[1]} |")
    print("\nthe same, bootstrap over sets (a set's verdicts stay together), and same-class pairs across sets:")
    for row in result["candidates"]:
        g, d, sc = row["gain_ci_by_set"], row["auc_minus_lite2_ci_by_set"], row["same_class"]
        print(f"| {row['name'][:70]} | minus base {row['gain']:+d} ({g[0]:+.0f} to {g[1]:+.0f}) | AUC minus Lite2's "
              f"({d[0]:+.3f} to {d[1]:+.3f}) | same class {sc[0] / max(sc[1], 1):.0%} of {sc[1]} |")
    print("\nper recipe (test): named/n, base, agrees and AUC per candidate")
    for rec in sorted({r["recipe"] for r in te}):
        parts = [f"{c['per_recipe'][rec]['agree']} / AUC {c['per_recipe'][rec]['auc']:.2f}"
                 for c in result["candidates"]]
        pr = result["candidates"][0]["per_recipe"][rec]
        print(f"| {rec} | {pr['named']}/{pr['n']} | {pr['base']} | " + " | ".join(parts) + " |")
    # every single feature, for the record (chosen by nothing: the test AUC of each, in training order)
    result["singles"] = []
    print("\nsingle features, ordered by training AUC (oriented on training): train AUC -> test AUC")
    for a_tr, n, a, b, s in singles:
        result["singles"].append(dict(feature=n, sign=s, train_auc=a_tr, test_auc=auc(b, y_te)))
    for d in result["singles"][:15]:
        print(f"  {d['feature']:28s} {'+' if d['sign'] > 0 else '-'} {d['train_auc']:.3f} -> {d['test_auc']:.3f}")
    result["test_scores"] = {c.name: c.te.tolist() for c in cands}
    result["test_truth"] = y_te.tolist()
    result["test_recipe"] = [r["recipe"] for r in te]
    return result


def roc_figure(result: dict, path: str) -> None:
    """ROC curves of every candidate on the test rounds (one panel) and the named/unnamed score strips."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = np.array(result["test_truth"])
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    ax = axes[0]
    for name, s in result["test_scores"].items():
        s = np.asarray(s)
        if "guide's rule" in name:
            continue                                    # the same score as the fitted Lite2 rank
        cuts = np.r_[np.inf, np.unique(s)[::-1]]
        tpr = [((s >= c) & y).sum() / y.sum() for c in cuts]
        fpr = [((s >= c) & ~y).sum() / (~y).sum() for c in cuts]
        ax.plot(fpr, tpr, label=f"{name[:48]} (AUC {auc(s, y):.2f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_xlabel("unnamed images passed (false-positive rate)")
    ax.set_ylabel("named images passed (true-positive rate)")
    ax.set_title(f"held-out rounds {result['train_max'] + 1}+: {result['n_test']} verdicts, "
                 f"{result['named_test']} named ({result['truth']})")
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[1]
    names = [n for n in result["test_scores"] if "guide's rule" not in n]
    for i, name in enumerate(names):
        s = np.asarray(result["test_scores"][name])
        z = (s[:, None] > s[None, :]).mean(1) + 0.5 * (s[:, None] == s[None, :]).mean(1)
        jit = np.random.default_rng(i).uniform(-0.15, 0.15, len(s))
        ax.scatter(z[~y], i + 0.2 + jit[~y], s=6, c="tab:red", alpha=0.5, label="not named" if i == 0 else None)
        ax.scatter(z[y], i - 0.2 + jit[y], s=6, c="tab:green", alpha=0.5, label="named" if i == 0 else None)
    ax.set_yticks(range(len(names)), [n[:40] for n in names], fontsize=7)
    ax.set_xlabel("score as a percentile of the test verdicts' scores")
    ax.set_title("scores of named (green) and unnamed (red) images")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
