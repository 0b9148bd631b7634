"""The training report's importance by source table: each feature's gain goes to the tables it reads."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from training.evaluate import importance_by_source


def test_gain_is_shared_among_a_features_source_tables():
    features = [{"name": "dept_list_in_effect_count", "dimension": "compliance"},   # dept_lists
                {"name": "penalty_in_effect_count", "dimension": "compliance"},     # penalties,repairs
                {"name": "my_column", "dimension": "my_column"}]                    # not in the catalog
    model = SimpleNamespace(features=features, feature_importance=lambda: np.array([2.0, 4.0, 2.0]))
    assert importance_by_source(model) == {"dept_lists": 0.25, "penalties": 0.25, "repairs": 0.25, "my_column": 0.25}
