"""`crmlens clv` side by side with Python `lifetimes` 0.11.3, in one run, on the same file.

Usage (with a venv that has lifetimes 0.11.3, numpy<1.24, pandas<2, scipy<1.12, autograd<1.7;
see benches/clv_reference.py):
    python benches/clv_vs_lifetimes.py target/release/crmlens [customers] [workdir] [out.json]
    (defaults: 1000000 customers, /tmp/crmlens-clv-bench)

1. Once per N, writes transactions_<N>.csv (customer_id, date, amount) for N simulated
   customers: BG/NBD (r=0.5, alpha=10 days, a=0.8, b=2.5) with Gamma-Gamma-style spend
   (p=6, q=3, v=60, clipped to 5..500), first purchases over 2022-01-01..2023-12-31, purchases
   up to 2024-12-31, ~5% of purchases with a second line on the same day; the same model as
   clv_reference.py, vectorised: given n ~ Poisson(lambda*H) events in [0, H] the times are
   uniform order statistics, the customer makes min(n, Geometric(p)) repeat purchases, and the
   first k of n order statistics are S_i / (S_k + Gamma(n-k+1)) with S_i sums of Exp(1).
2. Times the whole `crmlens clv` process (wall, peak RSS via /usr/bin/time -v), calibration
   end 2024-06-30, observation end 2024-12-31, --out a per-customer CSV; and once more without
   --out, to show what writing the CSV costs.
3. Times the whole lifetimes job in one (child) process: read_csv, calibration_and_holdout_data,
   BetaGeoFitter.fit, GammaGammaFitter.fit (frequency_cal > 0 & monetary_value_cal > 0),
   customer_lifetime_value(time=12, discount_rate=0.01, freq='D') for everyone, and the
   holdout prediction, each stage timed. A watchdog kills it if one stage runs > 600 s or the
   whole job > 900 s; then both tools are rerun at N = 200000 (reported as a fallback).
4. Compares parameters, log-likelihoods (BG/NBD in days, summed over customers), holdout
   totals and the per-customer CLV (joined on customer id).
"""
import json, os, resource, signal, subprocess, sys, time

import numpy as np
import pandas as pd

CAL_END = "2024-06-30"
OBS_END = "2024-12-31"
FALLBACK_N = 200_000
STAGE_LIMIT_S = 600
TOTAL_LIMIT_S = 900


# --------------------------------------------------------------------------------------------
# lifetimes worker (run as a child process so that its wall time and peak RSS are its own)
# --------------------------------------------------------------------------------------------
def lifetimes_worker(csv_path, out_dir):
    t_import = time.perf_counter()
    import lifetimes
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import calibration_and_holdout_data
    import_s = time.perf_counter() - t_import
    progress = open(os.path.join(out_dir, "lifetimes_progress.txt"), "w", buffering=1)
    stages = {}

    def stage(name):
        progress.write(f"{name} {time.time()}\n")
        return time.perf_counter()

    t0 = s = stage("read")
    df = pd.read_csv(csv_path, dtype={"customer_id": str, "date": str, "amount": float})
    stages["read"] = time.perf_counter() - s
    s = stage("summary")
    cal = calibration_and_holdout_data(
        df, "customer_id", "date", calibration_period_end=CAL_END,
        observation_period_end=OBS_END, freq="D", monetary_value_col="amount")
    stages["summary"] = time.perf_counter() - s
    n_lines = len(df)
    del df
    s = stage("bgnbd_fit")
    bgf = BetaGeoFitter(penalizer_coef=0.0)
    bgf.fit(cal["frequency_cal"], cal["recency_cal"], cal["T_cal"])
    stages["bgnbd_fit"] = time.perf_counter() - s
    s = stage("gg_fit")
    gg = cal[(cal["frequency_cal"] > 0) & (cal["monetary_value_cal"] > 0)]
    ggf = GammaGammaFitter(penalizer_coef=0.0)
    ggf.fit(gg["frequency_cal"], gg["monetary_value_cal"])
    stages["gg_fit"] = time.perf_counter() - s
    F, R, T, M = cal["frequency_cal"], cal["recency_cal"], cal["T_cal"], cal["monetary_value_cal"]
    s = stage("clv")
    clv = ggf.customer_lifetime_value(bgf, F, R, T, M, time=12, discount_rate=0.01, freq="D")
    stages["clv"] = time.perf_counter() - s
    s = stage("holdout")
    pred = bgf.conditional_expected_number_of_purchases_up_to_time(cal["duration_holdout"], F, R, T)
    stages["holdout"] = time.perf_counter() - s
    total = time.perf_counter() - t0
    progress.write(f"done {time.time()}\n")

    # Log-likelihoods in days (lifetimes fits on time / max(T); its stored value is in those
    # units and per customer), summed over customers, the scale crmlens reports.
    x = F.to_numpy(float)
    tx, TT = R.to_numpy(float), T.to_numpy(float)
    gx, gm = gg["frequency_cal"].to_numpy(float), gg["monetary_value_cal"].to_numpy(float)
    r, alpha, a, b = (float(bgf.params_[k]) for k in ["r", "alpha", "a", "b"])
    p, q, v = (float(ggf.params_[k]) for k in ["p", "q", "v"])
    np.savez(os.path.join(out_dir, "lifetimes_arrays.npz"), x=x, tx=tx, T=TT, gx=gx, gm=gm)
    pd.DataFrame({"customer_id": cal.index.to_numpy(), "clv": np.asarray(clv, float),
                  "pred_holdout": np.asarray(pred, float)}).to_pickle(
        os.path.join(out_dir, "lifetimes_customers.pkl"))
    res = {
        "versions": {"lifetimes": lifetimes.__version__, "numpy": np.__version__,
                     "pandas": pd.__version__},
        "n_lines": n_lines, "n_customers": int(len(cal)), "import_seconds": import_s,
        "stages": stages, "seconds": total,
        "fit_seconds": stages["bgnbd_fit"] + stages["gg_fit"],
        "bgnbd": {"r": r, "alpha": alpha, "a": a, "b": b,
                  "log_likelihood": bg_ll([r, alpha, a, b], x, tx, TT)},
        "gamma_gamma": {"p": p, "q": q, "v": v, "n_customers": int(len(gg)),
                        "log_likelihood": gg_ll([p, q, v], gx, gm)},
        "holdout": {"duration_days": float(cal["duration_holdout"].iloc[0]),
                    "predicted_total": float(np.sum(pred)),
                    "actual_total": float(cal["frequency_holdout"].sum())},
        "clv": {"total": float(np.sum(clv)), "mean": float(np.mean(clv)),
                "median": float(np.median(clv))},
        "peak_rss_mb_getrusage": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    with open(os.path.join(out_dir, "lifetimes_result.json"), "w") as f:
        json.dump(res, f, indent=1)


def bg_ll(params, x, tx, T):
    from lifetimes import BetaGeoFitter
    n = len(x)
    return -n * float(BetaGeoFitter._negative_log_likelihood(
        np.log(np.asarray(params, float)), x, tx, T, np.ones(n, dtype=int), 0.0))


def gg_ll(params, x, m):
    from lifetimes import GammaGammaFitter
    n = len(x)
    return -n * float(GammaGammaFitter._negative_log_likelihood(
        np.log(np.asarray(params, float)), x, m, np.ones(n, dtype=int), 0.0))


if len(sys.argv) > 1 and sys.argv[1] == "--lifetimes-worker":
    lifetimes_worker(sys.argv[2], sys.argv[3])
    sys.exit(0)


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def simulate(n_customers, path, seed=5):
    rng = np.random.default_rng(seed)
    day0 = np.datetime64("2022-01-01")
    end_off = int((np.datetime64(OBS_END) - day0).astype(int))  # 1095
    first = rng.integers(0, 730, size=n_customers)               # 2022-01-01..2023-12-31
    H = (end_off - first) + 0.999                                # purchases up to OBS_END incl.
    lam = rng.gamma(0.5, 1 / 10.0, size=n_customers)             # shape r, rate alpha (per day)
    pdrop = rng.beta(0.8, 2.5, size=n_customers)
    nu = rng.gamma(3.0, 1 / 60.0, size=n_customers)              # shape q, rate v
    n_events = rng.poisson(lam * H)
    k = np.minimum(n_events, rng.geometric(pdrop))               # repeat purchases made
    cust_rep = np.repeat(np.arange(n_customers), k)
    cs = np.cumsum(rng.exponential(size=int(k.sum())))
    prev = np.concatenate([[0.0], cs])[np.cumsum(k) - k]         # cumsum before each group
    S = cs - prev[cust_rep]
    S_k = np.where(k > 0, np.concatenate([[0.0], cs])[np.cumsum(k)] - prev, 0.0)
    total = S_k + rng.gamma(n_events - k + 1.0)
    t = S / total[cust_rep] * H[cust_rep]
    cust = np.concatenate([np.arange(n_customers), cust_rep])
    day = np.concatenate([first, first[cust_rep] + np.floor(t).astype(np.int64)])
    dup = rng.random(len(cust)) < 0.05                           # second line on the same day
    cust = np.concatenate([cust, cust[dup]])
    day = np.concatenate([day, day[dup]])
    amt = rng.gamma(6.0, 1.0, size=len(cust)) / nu[cust]         # shape p, rate nu
    amt = np.round(np.clip(amt, 5.0, 500.0), 2)
    order = np.lexsort((cust, day))
    ids = np.array([f"C{i:07d}" for i in range(n_customers)], dtype=object)
    dates = np.array([str(day0 + i) for i in range(end_off + 1)], dtype=object)
    df = pd.DataFrame({"customer_id": ids[cust[order]], "date": dates[day[order]],
                       "amount": amt[order]})
    tmp = path + ".part"
    df.to_csv(tmp, index=False, float_format="%.2f", chunksize=500_000)
    os.replace(tmp, path)
    return {"lines": int(len(df)), "purchases": int(n_customers + k.sum()),
            "duplicate_lines": int(dup.sum())}


def ensure_data(n_customers, work):
    path = os.path.join(work, f"transactions_{n_customers}.csv")
    meta_path = path + ".meta.json"
    if not (os.path.exists(path) and os.path.exists(meta_path)):
        t = time.perf_counter()
        meta = simulate(n_customers, path)
        meta["generate_seconds"] = round(time.perf_counter() - t, 1)
        with open(meta_path, "w") as f:
            json.dump(meta, f)
    with open(meta_path) as f:
        meta = json.load(f)
    meta["bytes"] = os.path.getsize(path)
    meta["customers"] = n_customers
    return path, meta


# --------------------------------------------------------------------------------------------
# runs
# --------------------------------------------------------------------------------------------
def peak_mb(stderr):
    return round(next(int(l.split()[-1]) for l in stderr.splitlines()
                      if "Maximum resident" in l) / 1024)


def run_crmlens(binary, csv_path, out_csv):
    cmd = ["/usr/bin/time", "-v", binary, "clv", "--input", csv_path,
           "--customer-col", "customer_id", "--date-col", "date", "--amount-col", "amount",
           "--calibration-end", CAL_END, "--observation-end", OBS_END,
           "--horizon", "12", "--discount-rate", "0.01", "--json"]
    if out_csv:
        cmd += ["--out", out_csv]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        sys.exit(f"crmlens failed ({out.returncode}):\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout)
    res["wall_seconds"] = wall
    res["peak_rss_mb"] = peak_mb(out.stderr)
    return res


def run_lifetimes(csv_path, work):
    """Returns the worker's result, or None if the watchdog killed it."""
    for f in ["lifetimes_result.json", "lifetimes_progress.txt"]:
        if os.path.exists(os.path.join(work, f)):
            os.remove(os.path.join(work, f))
    err_path = os.path.join(work, "lifetimes_time.txt")
    t = time.perf_counter()
    with open(err_path, "w") as err:
        proc = subprocess.Popen(
            ["/usr/bin/time", "-v", sys.executable, os.path.abspath(__file__),
             "--lifetimes-worker", csv_path, work],
            stdout=sys.stdout, stderr=err, start_new_session=True)
        killed = None
        while proc.poll() is None:
            time.sleep(2)
            prog = os.path.join(work, "lifetimes_progress.txt")
            last = None
            if os.path.exists(prog):
                lines = open(prog).read().split()
                last = (lines[-2], float(lines[-1])) if len(lines) >= 2 else None
            if last and last[0] != "done" and time.time() - last[1] > STAGE_LIMIT_S:
                killed = f"stage {last[0]} ran over {STAGE_LIMIT_S} s"
            elif time.perf_counter() - t > TOTAL_LIMIT_S:
                killed = f"whole job ran over {TOTAL_LIMIT_S} s"
            if killed:
                os.killpg(proc.pid, signal.SIGKILL)   # our own child's process group
                proc.wait()
                print(f"lifetimes killed: {killed}", flush=True)
                return None, killed
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"lifetimes worker failed:\n{open(err_path).read()[-3000:]}")
    with open(os.path.join(work, "lifetimes_result.json")) as f:
        res = json.load(f)
    res["process_wall_seconds"] = wall
    res["peak_rss_mb"] = peak_mb(open(err_path).read())
    return res, None


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def compare(cr, lt, out_csv, work):
    agree = {"params_rel_diff": {}, "log_likelihood": {}, "holdout": {}, "clv": {}}
    for model, keys in [("bgnbd", ["r", "alpha", "a", "b"]), ("gamma_gamma", ["p", "q", "v"])]:
        for k in keys:
            agree["params_rel_diff"][k] = rel(cr[model][k], lt[model][k])
    # Each side's optimum, both evaluated with lifetimes' own likelihood: which fit is higher?
    arr = np.load(os.path.join(work, "lifetimes_arrays.npz"))
    cb, cg = cr["bgnbd"], cr["gamma_gamma"]
    agree["log_likelihood"] = {
        "bgnbd_crmlens_reported": cb["log_likelihood"],
        "bgnbd_lifetimes": lt["bgnbd"]["log_likelihood"],
        "bgnbd_at_crmlens_params_by_lifetimes": bg_ll(
            [cb["r"], cb["alpha"], cb["a"], cb["b"]], arr["x"], arr["tx"], arr["T"]),
        "gamma_gamma_crmlens_reported": cg["log_likelihood"],
        "gamma_gamma_lifetimes": lt["gamma_gamma"]["log_likelihood"],
        "gamma_gamma_at_crmlens_params_by_lifetimes": gg_ll(
            [cg["p"], cg["q"], cg["v"]], arr["gx"], arr["gm"]),
        "gamma_gamma_n_customers": {"crmlens": cg["n_customers"],
                                    "lifetimes": lt["gamma_gamma"]["n_customers"]},
    }
    ll = agree["log_likelihood"]
    ll["bgnbd_crmlens_minus_lifetimes"] = (ll["bgnbd_at_crmlens_params_by_lifetimes"]
                                           - ll["bgnbd_lifetimes"])
    ll["gamma_gamma_crmlens_minus_lifetimes"] = (ll["gamma_gamma_at_crmlens_params_by_lifetimes"]
                                                 - ll["gamma_gamma_lifetimes"])
    for k in ["predicted_total", "actual_total"]:
        agree["holdout"][k] = {"crmlens": cr["holdout"][k], "lifetimes": lt["holdout"][k],
                               "rel_diff": rel(cr["holdout"][k], lt["holdout"][k])}
    for k in ["total", "mean", "median"]:
        agree["clv"][k] = {"crmlens": cr["clv"][k], "lifetimes": lt["clv"][k],
                           "rel_diff": rel(cr["clv"][k], lt["clv"][k])}
    # per customer
    c = pd.read_csv(out_csv, dtype={"customer_id": str})
    clv_col = "clv" if "clv" in c.columns else next(x for x in c.columns if "clv" in x.lower())
    l = pd.read_pickle(os.path.join(work, "lifetimes_customers.pkl"))
    j = l.merge(c[["customer_id", clv_col]].rename(columns={clv_col: "clv_crmlens"}),
                on="customer_id", how="outer", indicator=True)
    both = j[j["_merge"] == "both"]
    d = (both["clv_crmlens"] - both["clv"]).abs() / both["clv"].abs().clip(lower=1e-12)
    i = int(np.argmax(d.to_numpy()))
    agree["clv"]["per_customer"] = {
        "crmlens_out_columns": list(c.columns),
        "joined": int(len(both)), "only_crmlens": int((j["_merge"] == "right_only").sum()),
        "only_lifetimes": int((j["_merge"] == "left_only").sum()),
        "rel_diff_max": float(d.max()), "rel_diff_median": float(d.median()),
        "rel_diff_p99": float(d.quantile(0.99)),
        "worst": {"customer_id": both["customer_id"].iloc[i],
                  "crmlens": float(both["clv_crmlens"].iloc[i]),
                  "lifetimes": float(both["clv"].iloc[i])},
    }
    return agree


def bench(binary, n_customers, work):
    csv_path, data = ensure_data(n_customers, work)
    print("data:", json.dumps(data), flush=True)
    out_csv = os.path.join(work, f"crmlens_clv_{n_customers}.csv")
    cr = run_crmlens(binary, csv_path, out_csv)
    print("crmlens (--out):", json.dumps(cr), flush=True)
    cr_no_out = run_crmlens(binary, csv_path, None)
    print("crmlens (no --out): wall %.2f s, peak %d MB" % (cr_no_out["wall_seconds"],
                                                           cr_no_out["peak_rss_mb"]), flush=True)
    lt, killed = run_lifetimes(csv_path, work)
    return data, out_csv, cr, cr_no_out, lt, killed


def main():
    binary = sys.argv[1]
    n_customers = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    work = sys.argv[3] if len(sys.argv) > 3 else "/tmp/crmlens-clv-bench"
    out_json = sys.argv[4] if len(sys.argv) > 4 else None
    os.makedirs(work, exist_ok=True)
    t_all = time.perf_counter()

    requested = n_customers
    data, out_csv, cr, cr_no_out, lt, killed = bench(binary, n_customers, work)
    fallback = None
    if lt is None:
        fallback = (f"lifetimes at N={n_customers}: {killed}; both tools rerun at "
                    f"N={FALLBACK_N}")
        n_customers = FALLBACK_N
        data, out_csv, cr, cr_no_out, lt, killed = bench(binary, n_customers, work)
        if lt is None:
            sys.exit(f"lifetimes too slow even at N={FALLBACK_N}: {killed}")
    print("lifetimes:", json.dumps(lt), flush=True)

    agree = compare(cr, lt, out_csv, work)
    summary = {
        "customers_requested": requested, "customers": n_customers, "fallback": fallback,
        "data": data, "calibration_end": CAL_END, "observation_end": OBS_END,
        "timings": {
            "crmlens_wall_seconds": cr["wall_seconds"],
            "crmlens_reported_seconds": cr["seconds"],
            "crmlens_wall_seconds_without_out": cr_no_out["wall_seconds"],
            "crmlens_peak_rss_mb": cr["peak_rss_mb"],
            "lifetimes_seconds": lt["seconds"],
            "lifetimes_process_wall_seconds_incl_imports": lt["process_wall_seconds"],
            "lifetimes_stages": lt["stages"],
            "lifetimes_fit_seconds": lt["fit_seconds"],
            "lifetimes_peak_rss_mb": lt["peak_rss_mb"],
            "ratio_crmlens_wall_over_lifetimes": cr["wall_seconds"] / lt["seconds"],
            "ratio_crmlens_wall_over_lifetimes_process_wall":
                cr["wall_seconds"] / lt["process_wall_seconds"],
            "ratio_crmlens_reported_seconds_over_lifetimes_fit_only":
                cr["seconds"] / lt["fit_seconds"],
            "note": "crmlens 'seconds' is its own end-to-end time (read to CLV); lifetimes "
                    "'seconds' is read_csv..holdout prediction in one process, no imports",
        },
        "crmlens": {k: cr[k] for k in ["n_customers", "bgnbd", "gamma_gamma", "holdout", "clv"]},
        "lifetimes": {k: lt[k] for k in ["versions", "n_customers", "n_lines", "bgnbd",
                                         "gamma_gamma", "holdout", "clv"]},
        "agreement": agree,
        "bench_seconds": time.perf_counter() - t_all,
    }
    print(json.dumps(summary, indent=2))
    if out_json:
        with open(out_json, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
