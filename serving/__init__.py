"""Publication of tiers, manual overrides, API keys and the BentoML service."""
