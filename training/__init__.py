"""Training: labels, temporal split, LightGBM, calibration, risk tiers, evaluation and the model registry."""
