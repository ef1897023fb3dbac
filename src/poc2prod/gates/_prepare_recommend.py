"""What every gate of a recommendation project starts from: the interaction log, cleaned, indexed,
split in time twice (the future judged once; a cut inside the past to choose on), and priced.

The same spec and data always give the same log and cuts, so prove, optimize and deploy agree on
what the holdout is without freezing anything: a time cut is reproducible from the data alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from poc2prod import data as d
from poc2prod.errors import DataError

if TYPE_CHECKING:
    from poc2prod.project import Project
    from poc2prod.recommend import Interactions, Split


@dataclass
class PreparedLog:
    """The cleaned log and its two time splits, with what was set aside and the items' value."""

    frame: pd.DataFrame  # the raw rows, as loaded
    cleaned: pd.DataFrame  # clean_log's frame: user, item, time, weight (and price)
    log: Interactions
    future: Split  # all the past trains; the future (the holdout) judges, once
    past: Split  # a cut inside the past: models are raced and tuned here
    notes: list[str]
    prices: np.ndarray | None  # median price of each item of log.items (None without a price column)

    def item_values(self, split: Split, value) -> np.ndarray | None:
        """Money per accepted recommendation of each item in ``split``'s catalogue (its index map),
        from the spec's value model (None when it prices nothing)."""
        if self.prices is None:
            return value.per_accepted(None, split.train.n_items)
        positions = np.searchsorted(self.log.items, split.train.items)
        return value.per_accepted(self.prices[positions], split.train.n_items)

    @property
    def fingerprint(self) -> str:
        """The data and the cut: a tuning study is only resumed on the same ones."""
        return f"{d.fingerprint(self.frame)}:{self.future.cut}:{self.past.cut}"


def prepare_log(project: Project) -> PreparedLog:
    """Load the project's interaction log, clean it (saying what was dropped) and split it."""
    from poc2prod.recommend import Interactions, clean_log, item_prices, time_split

    spec = project.spec
    frame = d.load(spec.data, project.root)
    c, r = spec.columns, spec.recommend
    named = [x for x in (c.user, c.item, c.time, c.weight, r.invoice, r.price, r.description) if x]
    absent = [x for x in named if x not in frame.columns]
    if absent:
        raise DataError(
            f"column {absent[0]!r} named in poc2prod.yaml is not in the data; the data has "
            f"{', '.join(map(repr, list(frame.columns)[:8]))}. Fix the name in the spec."
        )
    cleaned, notes = clean_log(
        frame,
        user=c.user,
        item=c.item,
        time=c.time,
        weight=c.weight,
        invoice=r.invoice,
        price=r.price,
        description=r.description,
        non_products=tuple(r.non_products),
    )
    log = Interactions.from_frame(cleaned)
    future = time_split(log, holdout=spec.split.holdout)
    past = time_split(future.train, holdout=spec.split.holdout)
    notes += [f"holdout: {n}" for n in future.notes] + [f"model selection: {n}" for n in past.notes]
    prices = item_prices(cleaned, log.items) if r.price else None
    return PreparedLog(frame, cleaned, log, future, past, notes, prices)
