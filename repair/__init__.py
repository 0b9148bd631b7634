"""Credit repair (信用修复): eligibility rules, repair cases, objections, deadlines and status."""
