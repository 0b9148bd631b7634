"""Registries: targets drop closed entities, versions are content hashes, the generated registry is deterministic."""

import pandas as pd

from inspection.registries import TARGET_COLUMNS, content_version, generate_inspectors, targets_frame


def test_closed_entities_leave_the_target_registry_and_licences_join(targets):
    scores = targets[["uscc", "tier", "probability"]]
    entities = targets[["uscc", "entity_type", "industry_code", "town_code"]].assign(status="active")
    entities.loc[0, "status"] = "revoked"
    licences = pd.DataFrame({"uscc": [targets.loc[1, "uscc"]], "licence_types": ["drug_retail"]})
    frame = targets_frame(scores, entities=entities, licences=licences)
    assert targets.loc[0, "uscc"] not in set(frame["uscc"]) and len(frame) == len(targets) - 1
    assert frame.set_index("uscc").at[targets.loc[1, "uscc"], "licence_types"] == "drug_retail"
    assert frame["entity_type"].notna().all()


def test_versions_follow_content_and_generation_is_deterministic(targets, policy):
    v1 = content_version(targets, TARGET_COLUMNS)
    changed = targets.copy()
    changed.loc[5, "tier"] = "D" if changed.loc[5, "tier"] != "D" else "A"
    assert content_version(targets.copy(), TARGET_COLUMNS) == v1 != content_version(changed, TARGET_COLUMNS)
    a, b = generate_inspectors(targets, policy, seed=3), generate_inspectors(targets, policy, seed=3)
    assert a.version == b.version and a.version != generate_inspectors(targets, policy, seed=4).version
    assert not {"name", "person_name"} & set(a.frame.columns)
