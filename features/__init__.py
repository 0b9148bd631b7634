"""Source contract, ingest, warehouse and the seven-dimension feature pipeline."""
