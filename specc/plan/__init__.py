"""Planning: the decision guide as rules, the planner that applies them, and the Plan it produces (the single
source of truth that the build renders)."""
