"""Credit repair (信用修复): eligibility rules, graded procedures, cases, objections, notices, sharing, deadlines, status."""
