"""The public-opinion ledger (舆情台账): negative items opened as entries with a 48-clock-hour handling deadline."""
