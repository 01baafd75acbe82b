#!/usr/bin/env python3
"""Reference numbers for the Rust CLV module, produced with Python `lifetimes` 0.11.3.

Usage:
    python clv_reference.py [transactions.csv] [reference.json]
    (defaults: /tmp/clv_ref/transactions.csv /tmp/clv_ref/reference.json)

Environment that works (Python 3.11):
    python3 -m venv /tmp/ltvenv
    /tmp/ltvenv/bin/pip install lifetimes==0.11.3 "numpy<1.24" "pandas<2" "scipy<1.12" "autograd<1.7"
    (resolved: numpy 1.23.5, pandas 1.5.3, scipy 1.11.4, autograd 1.6.2)

What it does:
  1. Simulates a BG/NBD population (r=0.5, alpha=10 days, a=0.8, b=2.5) with
     Gamma-Gamma-style spend, numpy seed 5, and writes a transactions CSV
     (customer_id, date, amount). ~5% of purchases get a second line on the
     same day, so aggregation to purchase days matters. A few extra customers
     ("L..." ids) first buy in 2025, after both observation ends, so they must
     be absent from every summary.
  2. Builds lifetimes summaries (obs end 2024-12-31; calibration 2024-06-30 /
     holdout to 2025-06-30), fits BetaGeoFitter and GammaGammaFitter on the
     calibration data and dumps everything to JSON.
"""
import json
import os
import sys

import numpy as np
import pandas as pd
import scipy
import scipy.special
import lifetimes
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

SEED = 5
N_CUSTOMERS = 150
N_LATE = 3  # customers whose first purchase is after every observation end
TRUE = dict(r=0.5, alpha=10.0, a=0.8, b=2.5)
GG_TRUE = dict(p=6.0, q=3.0, v=60.0)
FIRST_START = pd.Timestamp("2023-01-01")
FIRST_END = pd.Timestamp("2023-12-31")
OBS_END_SIM = pd.Timestamp("2025-06-30")
SUMMARY_END = "2024-12-31"
CAL_END = "2024-06-30"
HOLDOUT_END = "2025-06-30"
DUP_RATE = 0.05


def simulate(path):
    rng = np.random.RandomState(SEED)
    rows = []
    first_span = (FIRST_END - FIRST_START).days + 1  # 365

    def customer(cid, first_day, horizon_days):
        lam = rng.gamma(TRUE["r"], 1.0 / TRUE["alpha"])  # shape r, rate alpha (per day)
        pdrop = rng.beta(TRUE["a"], TRUE["b"])
        nu = rng.gamma(GG_TRUE["q"], 1.0 / GG_TRUE["v"])  # shape q, rate v
        # purchase times (days since first purchase, continuous); first purchase at 0
        times = [0.0]
        t = 0.0
        while True:
            t += rng.exponential(1.0 / lam)
            if t > horizon_days:
                break
            times.append(t)
            if rng.rand() < pdrop:  # drop out after each repeat purchase
                break
        for tt in times:
            day = first_day + pd.Timedelta(days=int(np.floor(tt)))
            n_lines = 2 if rng.rand() < DUP_RATE else 1
            for _ in range(n_lines):
                amt = rng.gamma(GG_TRUE["p"], 1.0 / nu)  # shape p, rate nu -> mean p/nu
                amt = float(np.clip(amt, 5.0, 500.0))
                rows.append((cid, day.strftime("%Y-%m-%d"), round(amt, 2)))

    for i in range(N_CUSTOMERS):
        first_day = FIRST_START + pd.Timedelta(days=int(rng.randint(0, first_span)))
        horizon = (OBS_END_SIM - first_day).days + 0.999  # purchases up to and incl. 2025-06-30
        customer("K%04d" % (i + 1), first_day, horizon)
    for i in range(N_LATE):
        first_day = pd.Timestamp("2025-01-02") + pd.Timedelta(days=int(rng.randint(0, 170)))
        horizon = (OBS_END_SIM - first_day).days + 0.999
        customer("L%04d" % (i + 1), first_day, horizon)

    df = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    df = df.sort_values(["date", "customer_id"], kind="mergesort").reset_index(drop=True)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    df.to_csv(path, index=False, float_format="%.2f")
    return df


def f(x):
    """float or None (JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    return None if not np.isfinite(x) else x


def main():
    csv_path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/clv_ref/transactions.csv"
    json_path = sys.argv[2] if len(sys.argv) > 2 else "/tmp/clv_ref/reference.json"

    simulate(csv_path)
    # Read back so that everything below sees exactly the CSV contents.
    df = pd.read_csv(csv_path, dtype={"customer_id": str, "date": str, "amount": float})

    # ---- summaries ---------------------------------------------------------
    summ = summary_data_from_transaction_data(
        df, "customer_id", "date", monetary_value_col="amount",
        observation_period_end=SUMMARY_END, freq="D",
    ).sort_index()
    cal = calibration_and_holdout_data(
        df, "customer_id", "date", calibration_period_end=CAL_END,
        observation_period_end=HOLDOUT_END, freq="D", monetary_value_col="amount",
    ).sort_index()

    # ---- BG/NBD -------------------------------------------------------------
    bgf = BetaGeoFitter(penalizer_coef=0.0)
    bgf.fit(cal["frequency_cal"], cal["recency_cal"], cal["T_cal"])
    r, alpha, a, b = (float(bgf.params_[k]) for k in ["r", "alpha", "a", "b"])

    n = len(cal)
    x = cal["frequency_cal"].values.astype(int)
    tx = cal["recency_cal"].values.astype(float)
    T = cal["T_cal"].values.astype(float)
    w = np.ones(n, dtype=int)

    def bg_mean_nll(params, freq, rec, TT):
        return float(BetaGeoFitter._negative_log_likelihood(
            np.log(np.array(params, dtype=float)), freq, rec, TT, np.ones(len(freq), dtype=int), 0.0))

    nll_fit_days = bg_mean_nll([r, alpha, a, b], x, tx, T)
    # lifetimes fits on time scaled by 1/max(T); its stored optimum is in those units
    scale = float(bgf._scale)
    nll_fit_scaled_stored = float(bgf._negative_log_likelihood_)
    nll_fit_scaled_recomputed = bg_mean_nll([r, alpha * scale, a, b], x, tx * scale, T * scale)
    # identity: ll_days = ll_scaled + sum(x) * log(scale)
    ll_days_from_scaled = -nll_fit_scaled_stored * n + x.sum() * np.log(scale)
    assert abs(ll_days_from_scaled - (-nll_fit_days * n)) < 1e-6 * max(1.0, abs(nll_fit_days * n)), (
        ll_days_from_scaled, -nll_fit_days * n)
    nll_true_days = bg_mean_nll([TRUE[k] for k in ["r", "alpha", "a", "b"]], x, tx, T)

    # independent re-implementation check of the fixed-parameter value
    from scipy.special import gammaln
    rr, aa, A, B = TRUE["r"], TRUE["alpha"], TRUE["a"], TRUE["b"]
    A1 = gammaln(rr + x) - gammaln(rr) + rr * np.log(aa)
    A2 = gammaln(A + B) + gammaln(B + x) - gammaln(B) - gammaln(A + B + x)
    L = np.exp(-(rr + x) * np.log(aa + T))
    L = L + (x > 0) * (A / (B + np.maximum(x, 1) - 1)) * np.exp(-(rr + x) * np.log(aa + tx))
    ll_manual = float(np.sum(A1 + A2 + np.log(L)))
    assert abs(ll_manual - (-nll_true_days * n)) < 1e-8 * abs(ll_manual), (ll_manual, nll_true_days * n)

    # ---- Gamma-Gamma --------------------------------------------------------
    gg_mask = (cal["frequency_cal"] > 0) & (cal["monetary_value_cal"] > 0)
    gg_data = cal[gg_mask]
    ggf = GammaGammaFitter(penalizer_coef=0.0)
    ggf.fit(gg_data["frequency_cal"], gg_data["monetary_value_cal"])
    p, q, v = (float(ggf.params_[k]) for k in ["p", "q", "v"])
    gx = gg_data["frequency_cal"].values.astype(float)
    gm = gg_data["monetary_value_cal"].values.astype(float)
    gg_nll_true = float(GammaGammaFitter._negative_log_likelihood(
        np.log([GG_TRUE["p"], GG_TRUE["q"], GG_TRUE["v"]]), gx, gm, np.ones(len(gx), dtype=int), 0.0))
    gg_nll_fit = float(GammaGammaFitter._negative_log_likelihood(
        np.log([p, q, v]), gx, gm, np.ones(len(gx), dtype=int), 0.0))

    # ---- predictions ---------------------------------------------------------
    F, R, TT, M = cal["frequency_cal"], cal["recency_cal"], cal["T_cal"], cal["monetary_value_cal"]
    p_alive = bgf.conditional_probability_alive(F, R, TT)
    e30 = bgf.conditional_expected_number_of_purchases_up_to_time(30, F, R, TT)
    e365 = bgf.conditional_expected_number_of_purchases_up_to_time(365, F, R, TT)
    exp_spend_all = ggf.conditional_expected_average_profit(F, M)  # x=0 -> population mean
    # Canonical call: pass the OBSERVED monetary value; lifetimes applies the
    # Gamma-Gamma conditional expectation internally (passing the adjusted value
    # would shrink it twice).
    clv = ggf.customer_lifetime_value(bgf, F, R, TT, M, time=12, discount_rate=0.01, freq="D")
    dur = cal["duration_holdout"]
    pred_hold = bgf.conditional_expected_number_of_purchases_up_to_time(dur, F, R, TT)

    customers = []
    for i, cid in enumerate(cal.index):
        fr = float(F.iloc[i])
        customers.append({
            "id": cid,
            "frequency": fr,
            "recency": float(R.iloc[i]),
            "T": float(TT.iloc[i]),
            "monetary_value": float(M.iloc[i]),
            "p_alive": f(np.asarray(p_alive)[i]),
            "expected_purchases_30": f(np.asarray(e30)[i]),
            "expected_purchases_365": f(np.asarray(e365)[i]),
            "expected_average_spend": f(np.asarray(exp_spend_all)[i]) if fr > 0 else None,
            "clv": f(np.asarray(clv)[i]),
            "frequency_holdout": float(cal["frequency_holdout"].iloc[i]),
            "monetary_value_holdout": float(cal["monetary_value_holdout"].iloc[i]),
            "duration_holdout": float(dur.iloc[i]),
            "predicted_holdout_purchases": f(np.asarray(pred_hold)[i]),
        })

    summary_rows = [
        {"id": cid, "frequency": float(rw["frequency"]), "recency": float(rw["recency"]),
         "T": float(rw["T"]), "monetary_value": float(rw["monetary_value"])}
        for cid, rw in summ.iterrows()
    ]

    hyp_cases = [(1.5, 3.5, 4.3, 0.3), (10.5, 12.5, 13.3, 0.9), (0.5, 2.5, 2.3, 0.99),
                 (20.5, 22.5, 22.3, 0.5), (0.5, 2.5, 2.3, 0.0)]
    hyp = [{"a": a_, "b": b_, "c": c_, "z": z_, "value": f(scipy.special.hyp2f1(a_, b_, c_, z_))}
           for (a_, b_, c_, z_) in hyp_cases]

    n_raw_lines = len(df)
    n_purchase_days = int(df.groupby(["customer_id", "date"]).ngroups)
    out = {
        "generator": {
            "script": "benches/clv_reference.py", "seed": SEED,
            "versions": {"lifetimes": lifetimes.__version__, "numpy": np.__version__,
                         "pandas": pd.__version__, "scipy": scipy.__version__},
            "true_bgnbd": TRUE, "true_gamma_gamma": GG_TRUE,
            "n_customers_in_csv": int(df["customer_id"].nunique()),
            "n_csv_lines": int(n_raw_lines), "n_customer_purchase_days": n_purchase_days,
        },
        "time_unit": "day",
        "summary_observation_end": SUMMARY_END,
        "calibration_end": CAL_END,
        "holdout_end": HOLDOUT_END,
        "summary": {"n_customers": len(summary_rows), "customers": summary_rows},
        "bgnbd": {
            "r": r, "alpha": alpha, "a": a, "b": b,
            "n_customers": int(n),
            "log_likelihood_sum": -nll_fit_days * n,
            "log_likelihood_mean": -nll_fit_days,
            "lifetimes_scale": scale,
            "lifetimes_stored_negative_log_likelihood_mean_scaled_time": nll_fit_scaled_stored,
            "lifetimes_recomputed_negative_log_likelihood_mean_scaled_time": nll_fit_scaled_recomputed,
        },
        "bgnbd_fixed": {
            "r": TRUE["r"], "alpha": TRUE["alpha"], "a": TRUE["a"], "b": TRUE["b"],
            "log_likelihood_sum": -nll_true_days * n,
            "log_likelihood_mean": -nll_true_days,
        },
        "gamma_gamma": {
            "p": p, "q": q, "v": v, "n_customers": int(len(gg_data)),
            "negative_log_likelihood_mean": gg_nll_fit,
            "lifetimes_stored_negative_log_likelihood_mean": float(ggf._negative_log_likelihood_),
            "log_likelihood_sum": -gg_nll_fit * len(gg_data),
            "population_mean_spend": p * v / (q - 1.0),
        },
        "gamma_gamma_fixed": {
            "p": GG_TRUE["p"], "q": GG_TRUE["q"], "v": GG_TRUE["v"],
            "negative_log_likelihood_mean": gg_nll_true,
            "log_likelihood_sum": -gg_nll_true * len(gg_data),
        },
        "clv_settings": {"time_months": 12, "discount_rate": 0.01, "freq": "D", "days_per_month": 30,
                         "monetary_value_passed": "observed monetary_value_cal (GG-adjusted inside lifetimes)"},
        "holdout_totals": {
            "duration_holdout": float(dur.iloc[0]),
            "predicted": float(np.sum(pred_hold)),
            "actual": float(cal["frequency_holdout"].sum()),
        },
        "customers": customers,
        "hyp2f1": hyp,
    }
    os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
    with open(json_path, "w") as fh:
        json.dump(out, fh, indent=1)
    print(json.dumps({k: out[k] for k in ["bgnbd", "bgnbd_fixed", "gamma_gamma", "gamma_gamma_fixed",
                                          "holdout_totals"]}, indent=1))
    print("csv lines", n_raw_lines, "purchase days", n_purchase_days,
          "csv bytes", os.path.getsize(csv_path))


if __name__ == "__main__":
    main()
