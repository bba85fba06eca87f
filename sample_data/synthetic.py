"""Deterministic synthetic catalog, users and impression log.

Generative model (all draws from one `numpy.random.Generator(PCG64(seed))`, so the same
parameters give the same bytes):

* Embedding space. Each of C categories has a random unit centroid g_c. Topics (about one per
  `items_per_topic` items) belong to a category; a topic centre is m_t = norm(g_c + TOPIC_SPREAD*z).
  An item is x_i = norm(m_t + ITEM_NOISE*z_i) with isotropic noise z ~ N(0, I/d). The noise
  is large on purpose: neighbourhoods overlap and the intrinsic dimension is high, so weak
  ANN settings miss true neighbours (tight, separated clusters would make every backend look
  perfect and hide the trade-off this product exists to show).
* Items. Category of the topic; price = category base price x lognormal; margin ~ Beta;
  age ~ exponential (mean 200 days) so some items are fresh; inventory zero for ~8 %,
  geometric otherwise; latent popularity ~ Pareto(1.2) (heavy tail); ~0.5 % promoted;
  a readable title from word lists.
* Users. Category affinity ~ Dirichlet(0.3) (a few strong interests); TOPICS_PER_USER (3)
  favourite topics, each in another category drawn through that affinity; the user vector is
  norm(mean of those topic centres + noise). Segment (bargain / mainstream / premium /
  explorer) sets price sensitivity ~ Beta. Activity is lognormal, so some users have long
  histories and some almost none (`impressions_per_user` on average).
* Impressions. Shown items come from the user's taste (65 %: one of the POOL items of a
  favourite topic nearest the user's true vector, the nearest most often: what a recommender
  that knows the user would show), any item of a favourite topic (10 %), a sibling topic of
  the same category (10 %), popularity (3 %) or the whole catalog (12 %). Held-out clicks
  therefore follow each user's taste, as in a shop whose log its own recommender shaped, and
  a list that shows everyone the same bestsellers scores little. The click probability is
  sigmoid(CLICK_BIAS + 5 sim + 3 affinity + 2.5 freshness + 0.2 log popularity
  + 1.5 price match - 2.5 out-of-stock), so the ground truth depends on the embedding AND on
  signals no vector holds (category affinity, freshness, popularity, price match, inventory):
  a re-ranker has something real to learn. A purchase follows a click with probability
  sigmoid(-1 + 1.5 price match), never for an out-of-stock item.
* Hidden terms. Each item has a hidden quality ~ N(0, HIDDEN_QUALITY) and a hidden trait in
  R^4, each user a hidden taste in R^4; the click log-odds add quality + taste . trait. No
  feature reads them: a model can only learn them from the log (collaborative signal), so the
  re-ranker's inputs no longer hold the whole answer. They are drawn from their own stream,
  so the catalog's vectors are the same bytes with or without them.
* Embeddings. Stage 1 does not get the generator's vectors. By default (`embeddings =
  "content"`) items come with content vectors, as a text or image encoder would give them: the
  true vector plus CONTENT_NOISE of isotropic noise, renormalised (their own stream); a user's
  vector is the mean of what they liked before the cut-off (engine.embeddings, "given").
  `"learned"` fits both from the logged clicks, exactly as for imported data without vectors;
  `"generator"` keeps the true vectors (an upper bound; handy for ANN benchmarks, where only
  the geometry matters). The true vectors and the hidden terms stay in `hidden.npz` for the
  click-model judge.
* History. A user's history is their clicks, oldest first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.data import Catalog, CategoryAffinity, Interactions, StringColumn, Users, save_dataset
from engine.errors import DataFormatError
from engine.limits import DAY
from engine.progress import Progress, no_progress
from sample_data.click_model import (
    CHUNK,
    HIDDEN_FILE,
    HIDDEN_SCHEMA,
    Hidden,
    category_medians,
    click_logit,
    price_match,
    sigmoid,
)
from sample_data.words import ADJECTIVES, CATEGORY_WORDS, SEGMENTS

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z: fixed so the bytes do not depend on the clock
TOPIC_SPREAD = 1.0
ITEM_NOISE = 1.0
USER_NOISE = 0.5
TOPICS_PER_USER = 3
#: where an impression comes from: the user's taste (one of the POOL items of each of the
#: user's topics nearest the user: what a recommender that knows the user would show), any
#: item of one of those topics, a sibling topic of the same category, popularity, or the
#: whole catalog
TASTE, TOPIC, SIBLING, POPULAR, UNIFORM = range(5)
SOURCE_SHARES = (0.65, 0.1, 0.1, 0.03, 0.12)
POOL = 100
POOL_SKEW = 2.0  # the pool's rank is POOL * u ** POOL_SKEW: the nearest items are shown most
EMBEDDINGS = ("content", "learned", "generator")
#: content vectors are the true ones plus this much isotropic noise (as ITEM_NOISE), renormalised
CONTENT_NOISE = 0.3


@dataclass(frozen=True)
class SyntheticParams:
    """Size and seed of a synthetic data set (the defaults are the built-in data set)."""

    n_items: int = 100_000
    dim: int = 64
    n_users: int = 20_000
    n_categories: int = 30
    items_per_topic: int = 1_000
    impressions_per_user: int = 60
    log_days: int = 90
    seed: int = 7
    embeddings: str = "content"

    def __post_init__(self) -> None:
        if self.embeddings not in EMBEDDINGS:
            raise DataFormatError(
                f"synthetic data: embeddings must be one of {EMBEDDINGS}, got {self.embeddings!r}"
            )
        limits = {
            "n_items": (100, 50_000_000),
            "dim": (2, 4096),
            "n_users": (1, 10_000_000),
            "n_categories": (1, len(CATEGORY_WORDS)),
            "items_per_topic": (10, 1_000_000),
            "impressions_per_user": (1, 10_000),
            "log_days": (1, 3650),
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise DataFormatError(f"synthetic data: {name} must be in {low}..{high}, got {value}")


def generate(
    params: SyntheticParams, progress: Progress = no_progress
) -> tuple[Catalog, Users, Interactions, Hidden]:
    """Build the whole data set in memory, in chunks so 1,000,000 items fit in a few GiB."""
    rng = np.random.default_rng(params.seed)
    c, d = params.n_categories, params.dim
    category_centres = _normalise(rng.standard_normal((c, d), dtype=np.float32))
    n_topics = max(c, params.n_items // params.items_per_topic)
    topic_category = np.arange(n_topics) % c
    topic_centres = _normalise(
        category_centres[topic_category]
        + TOPIC_SPREAD * rng.standard_normal((n_topics, d), dtype=np.float32) / np.sqrt(d)
    )
    catalog, item_topic = _items(rng, params, topic_centres, topic_category, progress)
    users, user_topics = _users(rng, params, topic_centres, topic_category)
    hidden = Hidden.draw(params.seed, catalog, users)
    interactions = _impressions(rng, params, catalog, users, hidden, item_topic, user_topics, progress)
    users = _with_history(users, interactions)
    if params.embeddings == "content":  # stage 1 gets a noisy view of the items, none of the users
        noise = np.random.default_rng([params.seed, 2]).standard_normal(
            (catalog.n_items, d), dtype=np.float32
        )
        content = _normalise(catalog.vectors + CONTENT_NOISE * noise / np.float32(np.sqrt(d)))
        catalog = replace(catalog, vectors=content)
        users = replace(users, vectors=np.zeros_like(users.vectors))
    return catalog, users, interactions, hidden


def write(directory: Path, params: SyntheticParams, progress: Progress = no_progress) -> dict[str, Any]:
    """Generate and save; returns the manifest."""
    catalog, users, interactions, hidden = generate(params, progress)
    progress("save data set", 0, 1)
    manifest = save_dataset(
        directory,
        catalog,
        users,
        interactions,
        now=NOW,
        source={
            "generator": "sample_data.synthetic",
            "params": asdict(params),
            # content vectors are item embeddings the data brings: a user's is the mean of
            # what they liked (engine.embeddings' "given")
            "embeddings": "given" if params.embeddings == "content" else params.embeddings,
        },
        extra={HIDDEN_FILE: {name: getattr(hidden, name) for name in HIDDEN_SCHEMA}},
    )
    progress("save data set", 1, 1)
    return manifest


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _items(
    rng: np.random.Generator,
    params: SyntheticParams,
    topic_centres: np.ndarray,
    topic_category: np.ndarray,
    progress: Progress,
) -> tuple[Catalog, np.ndarray]:
    n, d, c = params.n_items, params.dim, params.n_categories
    topic_weight = rng.lognormal(0.0, 0.5, size=len(topic_centres))
    item_topic = rng.choice(len(topic_centres), size=n, p=topic_weight / topic_weight.sum())
    vectors = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        noise = rng.standard_normal((stop - start, d), dtype=np.float32) / np.float32(np.sqrt(d))
        vectors[start:stop] = _normalise(topic_centres[item_topic[start:stop]] + ITEM_NOISE * noise)
        progress("generate items", stop, n)
    category = topic_category[item_topic].astype(np.int32)
    base_price = np.exp(rng.uniform(2.0, 6.0, size=c))
    price = np.round(base_price[category] * rng.lognormal(0.0, 0.6, size=n), 2).astype(np.float32)
    age = np.minimum(rng.exponential(200.0, size=n), 1500.0) * DAY
    inventory = np.where(rng.random(n) < 0.08, 0, rng.geometric(0.05, size=n)).astype(np.int32)
    promoted = rng.random(n) < 0.005
    promoted[rng.choice(n, size=min(n, 5), replace=False)] = True
    adjective = rng.integers(0, len(ADJECTIVES), size=n)
    noun = rng.integers(0, 3, size=n)
    names = [CATEGORY_WORDS[i][0] for i in range(c)]
    titles = [
        f"{ADJECTIVES[a]} {CATEGORY_WORDS[k][1 + j]} #{i}"
        for i, (a, k, j) in enumerate(zip(adjective.tolist(), category.tolist(), noun.tolist(), strict=True))
    ]
    catalog = Catalog(
        vectors=vectors,
        category=category,
        price=price,
        margin=(rng.beta(2.0, 5.0, size=n) * 0.6).astype(np.float32),
        created_at=(NOW - age).astype(np.int64),
        inventory=inventory,
        popularity=(rng.pareto(1.2, size=n) + 1.0).astype(np.float32),
        promoted=promoted,
        titles=StringColumn.from_strings(titles),
        category_names=tuple(names),
    )
    return catalog, item_topic


def _users(
    rng: np.random.Generator,
    params: SyntheticParams,
    topic_centres: np.ndarray,
    topic_category: np.ndarray,
) -> tuple[Users, np.ndarray]:
    u, c, d = params.n_users, params.n_categories, params.dim
    affinity = rng.dirichlet(np.full(c, 0.3), size=u).astype(np.float32)
    # A favourite topic: a category drawn by affinity (each favourite in another category
    # while there are categories left), then one of that category's topics.
    draws = rng.random((u, TOPICS_PER_USER))
    fav_category = np.empty((u, TOPICS_PER_USER), dtype=np.int64)
    remaining = affinity.astype(np.float64)
    for slot in range(TOPICS_PER_USER):
        cumulative = np.cumsum(remaining, axis=1)
        point = draws[:, slot : slot + 1] * cumulative[:, -1:]
        fav_category[:, slot] = np.minimum((point > cumulative).sum(axis=1), c - 1)
        if slot + 1 < c:
            remaining[np.arange(u), fav_category[:, slot]] = 0.0
    topics_in_category = np.bincount(topic_category, minlength=c)
    pick = (rng.random((u, TOPICS_PER_USER)) * topics_in_category[fav_category]).astype(np.int64)
    user_topics = fav_category + c * pick  # topic t belongs to category t % c
    noise = rng.standard_normal((u, d), dtype=np.float32) / np.float32(np.sqrt(d))
    vectors = _normalise(topic_centres[user_topics].mean(axis=1) + USER_NOISE * noise)
    segment = rng.choice(len(SEGMENTS), size=u, p=[0.3, 0.4, 0.15, 0.15]).astype(np.int8)
    sensitivity_a = np.array([6.0, 3.0, 1.0, 2.0])[segment]
    sensitivity_b = np.array([2.0, 3.0, 6.0, 2.0])[segment]
    users = Users(
        vectors=vectors,
        segment=segment,
        price_sensitivity=rng.beta(sensitivity_a, sensitivity_b).astype(np.float32),
        category_affinity=CategoryAffinity.from_dense(affinity),
        history_offsets=np.zeros(u + 1, dtype=np.int64),
        history_items=np.zeros(0, dtype=np.int64),
        history_times=np.zeros(0, dtype=np.int64),
        segment_names=SEGMENTS,
    )
    return users, user_topics


def _impressions(
    rng: np.random.Generator,
    params: SyntheticParams,
    catalog: Catalog,
    users: Users,
    hidden: Hidden,
    item_topic: np.ndarray,
    user_topics: np.ndarray,
    progress: Progress,
) -> Interactions:
    n_items, c = catalog.n_items, params.n_categories
    activity = rng.lognormal(0.0, 0.8, size=users.n_users)
    counts = np.maximum(1, np.round(activity / activity.mean() * params.impressions_per_user)).astype(
        np.int64
    )
    user = np.repeat(np.arange(users.n_users, dtype=np.int64), counts)
    total = len(user)
    time = NOW - (rng.random(total) * params.log_days * DAY).astype(np.int64)

    by_topic = np.argsort(item_topic, kind="stable")
    topic_start = np.searchsorted(item_topic[by_topic], np.arange(item_topic.max() + 2))
    topic_size = np.diff(topic_start)
    source = rng.choice(len(SOURCE_SHARES), size=total, p=SOURCE_SHARES)
    own = user_topics[user, rng.integers(0, TOPICS_PER_USER, size=total)]
    # Another topic of the same category: topics of category k are k, k + c, k + 2c, ...
    topics_in_category = np.bincount(np.arange(len(topic_size)) % c, minlength=c)
    own_category = own % c
    sibling = own_category + c * (rng.random(total) * topics_in_category[own_category]).astype(np.int64)
    topic = np.where(source == SIBLING, sibling, own)
    within = (rng.random(total) * topic_size[topic]).astype(np.int64)
    item = by_topic[np.minimum(topic_start[topic] + within, n_items - 1)]
    taste = source == TASTE
    pools = _taste_pools(catalog, users, user_topics, by_topic, topic_start)
    # one favourite topic, then an item of its pool, the nearest ones most often
    slot = rng.integers(0, TOPICS_PER_USER, size=int(taste.sum()))
    rank = (POOL * rng.random(len(slot)) ** POOL_SKEW).astype(np.int64)
    item[taste] = pools[user[taste], slot * POOL + rank]
    cumulative_popularity = np.cumsum(catalog.popularity, dtype=np.float64)
    popular = np.searchsorted(cumulative_popularity, rng.random(total) * cumulative_popularity[-1])
    item = np.where(source == POPULAR, np.minimum(popular, n_items - 1), item)
    item = np.where(source == UNIFORM, rng.integers(0, n_items, size=total), item)
    progress("generate impressions", total // 2, total)

    medians = category_medians(catalog)
    logit = click_logit(catalog, users, hidden, user, item, time, medians)
    match = price_match(catalog, users, user, item, medians)
    in_stock = catalog.inventory[item] > 0
    clicked = rng.random(total) < sigmoid(logit)
    purchased = clicked & in_stock & (rng.random(total) < sigmoid(-1.0 + 1.5 * match))
    order = np.lexsort((time, user))
    progress("generate impressions", total, total)
    return Interactions(
        user=user[order],
        item=item[order].astype(np.int64),
        time=time[order],
        clicked=clicked[order],
        purchased=purchased[order],
    )


def _taste_pools(
    catalog: Catalog, users: Users, user_topics: np.ndarray, by_topic: np.ndarray, topic_start: np.ndarray
) -> np.ndarray:
    """Per user, the POOL items of each favourite topic nearest the user's true vector, nearest
    first (users x TOPICS_PER_USER * POOL), one topic at a time: its members against its fans."""
    pools = np.empty((users.n_users, TOPICS_PER_USER, POOL), dtype=np.int64)
    fan_user, fan_slot = np.divmod(np.arange(user_topics.size), TOPICS_PER_USER)
    fan_topic = user_topics.ravel()
    order = np.argsort(fan_topic, kind="stable")
    bounds = np.searchsorted(fan_topic[order], np.arange(len(topic_start)))
    for topic in np.unique(fan_topic).tolist():
        fans = order[bounds[topic] : bounds[topic + 1]]
        members = by_topic[topic_start[topic] : topic_start[topic + 1]]
        sims = users.vectors[fan_user[fans]] @ catalog.vectors[members].T
        if len(members) > POOL:
            nearest = np.argpartition(-sims, POOL - 1, axis=1)[:, :POOL]
            closest_first = np.argsort(-np.take_along_axis(sims, nearest, axis=1), axis=1)
            nearest = np.take_along_axis(nearest, closest_first, axis=1)
        else:  # a small topic: all of it, repeated to fill the pool
            nearest = np.resize(np.arange(len(members)), (len(fans), POOL))
        pools[fan_user[fans], fan_slot[fans]] = members[nearest]
    return pools.reshape(users.n_users, TOPICS_PER_USER * POOL)


def _with_history(users: Users, log: Interactions) -> Users:
    """A user's history is their clicks; the log is already sorted by user, then time."""
    clicks = np.flatnonzero(log.clicked)
    offsets = np.zeros(users.n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(log.user[clicks], minlength=users.n_users), out=offsets[1:])
    return Users(
        **{
            **{f: getattr(users, f) for f in users.__dataclass_fields__},
            "history_offsets": offsets,
            "history_items": log.item[clicks],
            "history_times": log.time[clicks],
        }
    )
