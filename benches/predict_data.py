"""The prediction benchmarks' data: a rows x 10 CSV of standard normal features (seeded), a
non-linear boundary with noise, about 30% positives; written once into `work` and shared by
benches/predict_vs_sklearn.py and benches/gbdt_vs_sklearn.py."""
import os

import numpy as np
import pandas as pd

FEATURES = [f"f{i}" for i in range(10)]


def ensure_csv(rows, work):
    """The CSV's path, writing it first if it is not there."""
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, f"predict_{rows}.csv")
    if not os.path.exists(path):
        rng = np.random.default_rng(11)
        x = rng.normal(0, 1, size=(rows, 10))
        score = 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.6 * x[:, 2] * x[:, 3] + 0.5 * np.abs(x[:, 4])
        score += rng.normal(0, 1.0, size=rows)
        y = (score > np.quantile(score, 0.7)).astype(int)
        df = pd.DataFrame(x, columns=FEATURES)
        df.insert(0, "id", np.arange(rows))
        df["target"] = y
        df.to_csv(path, index=False, float_format="%.5f")
    return path
