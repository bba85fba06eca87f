"""A generated interaction log shaped like a public retail one, for sizing the importer and
the build where no such file is at hand: item popularity and user activity long-tailed
(Zipf-like), no titles, thousands of categories, implicit feedback (no rating), millisecond
timestamps over two years, repeated (user, item) pairs, and a few items the items file lacks.

    python -m sample_data.shaped_log FOLDER [--interactions 1000000] [--items 100000]

then `twostage import FOLDER --time-unit ms --missing-items add`. Synthetic, and labelled so:
its figures say how long the pipeline takes at this size, not how good a model is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

START_MS = 1_577_836_800_000  # 2020-01-01
SPAN_MS = 2 * 365 * 86_400_000
MISSING_SHARE = 0.002  # items that appear only in the log


def write_shaped_log(
    folder: Path, n_interactions: int, n_items: int, n_users: int, n_categories: int, seed: int = 0
) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    listed = n_items - int(n_items * MISSING_SHARE)
    category = rng.zipf(1.6, n_items) % n_categories
    with open(folder / "items.csv", "w") as handle:
        handle.write("item_id,category,price\n")
        price = np.round(rng.lognormal(3.0, 1.0, listed), 2)
        handle.writelines(f"p{i},cat{category[i]},{price[i]}\n" for i in range(listed))
    item_weight = 1.0 / np.arange(1, n_items + 1) ** 0.9
    user_weight = rng.lognormal(0.0, 1.2, n_users)
    user = rng.choice(n_users, n_interactions, p=user_weight / user_weight.sum())
    item = rng.permutation(n_items)[rng.choice(n_items, n_interactions, p=item_weight / item_weight.sum())]
    repeat = rng.random(n_interactions) < 0.1  # a tenth of the rows repeat the user's previous pair
    order = np.argsort(user, kind="stable")
    user, item = user[order], item[order]
    same_user = np.r_[False, user[1:] == user[:-1]]
    item = np.where(repeat & same_user, np.r_[item[:1], item[:-1]], item)
    time = START_MS + rng.integers(0, SPAN_MS, n_interactions)
    with open(folder / "interactions.csv", "w") as handle:
        handle.write("user_id,item_id,timestamp\n")
        rows = zip(user.tolist(), item.tolist(), time.tolist(), strict=True)
        handle.writelines(f"c{u},p{i},{t}\n" for u, i, t in rows)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=60_000)
    parser.add_argument("--categories", type=int, default=2_000)
    args = parser.parse_args()
    write_shaped_log(args.folder, args.interactions, args.items, args.users, args.categories)


if __name__ == "__main__":
    main()
