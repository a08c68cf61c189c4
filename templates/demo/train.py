"""Train a logistic-regression classifier on scikit-learn's breast-cancer data set.

Logged with gitlog: params, the data set, a learning curve per epoch, the model.
Run it as a logged run:  gitlog run -e baseline -- python train.py --lr 0.01
"""

import argparse

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import train_test_split

import gitlog


def preprocess(x_train, x_val):
    """Features go to the model as they are."""
    return x_train, x_val, []


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with gitlog.start(params=vars(args)) as run:
        data = load_breast_cancer()
        x_train, x_val, y_train, y_val = train_test_split(
            data.data, data.target, test_size=0.25, random_state=args.seed,
            stratify=data.target)
        x_train, x_val, steps = preprocess(x_train, x_val)
        run.log_data(data, name="breast_cancer", source="sklearn.datasets.load_breast_cancer",
                     processing=["stratified 75/25 train/validation split", *steps],
                     train_samples=len(x_train), val_samples=len(x_val))

        model = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=args.lr,
                              alpha=args.alpha, random_state=args.seed)
        classes = np.unique(y_train)
        for epoch in range(args.epochs):
            model.partial_fit(x_train, y_train, classes=classes)
            loss = log_loss(y_train, model.predict_proba(x_train))
            val_loss = log_loss(y_val, model.predict_proba(x_val))
            accuracy = accuracy_score(y_val, model.predict(x_val))
            run.log_metrics({"loss": loss, "val_loss": val_loss, "accuracy": accuracy},
                            step=epoch)
            if epoch % 10 == 0 or epoch == args.epochs - 1:
                print(f"epoch {epoch:3d}  loss={loss:.4f}  val_loss={val_loss:.4f}  "
                      f"accuracy={accuracy:.3f}")
        run.log_metric("f1", f1_score(y_val, model.predict(x_val)))
        run.log_model(model)


if __name__ == "__main__":
    main()
