"""Serve the classifier of a logged run and log the deployment with gitlog.monitor.

Each request is timed; every window (here: a batch of requests, then monitor.flush())
is committed onto deploy/breast-cancer with its request count, latency percentiles,
error rate, the predictions' mean and the error samples.
Run it:  python serve.py --version high-lr
"""

import argparse

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler

import gitlog


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", default="baseline",
                        help="the run (experiment, commit or run id) whose model is served")
    parser.add_argument("--requests", type=int, default=300, help="requests a window")
    parser.add_argument("--windows", type=int, default=2)
    args = parser.parse_args()

    # The demo stores no model file: the served model is fitted with the run's params.
    params = gitlog.show(args.version).record.params
    data = load_breast_cancer()
    scaler = StandardScaler().fit(data.data)
    model = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=params["lr"],
                          alpha=params["alpha"], random_state=params["seed"])
    model.fit(scaler.transform(data.data), data.target)

    monitor = gitlog.monitor("breast-cancer", version=args.version)

    def predict(features):
        with monitor.request(features):
            features = np.asarray(features, dtype=float)
            if features.shape != (30,):
                raise ValueError(f"expected 30 features, got {features.shape[0]}")
            benign = model.predict_proba(scaler.transform([features]))[0, 1]
            monitor.observe("p_benign", benign)
            return int(benign > 0.5)

    rng = np.random.default_rng(0)
    for window in range(args.windows):
        for i in range(args.requests):
            row = data.data[rng.integers(len(data.data))]
            if window == args.windows - 1 and i % 20 == 0:
                row = row[:20]  # a client starts sending truncated rows
            try:
                predict(row)
            except ValueError:
                pass  # the service answers 400; the monitor counted the error
        monitor.flush()
    monitor.close()


if __name__ == "__main__":
    main()
