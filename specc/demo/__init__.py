"""The local demo: the tiny base model, its synthetic corpus, the example data and the demo story."""
