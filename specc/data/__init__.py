"""Training and evaluation data: row readers, row formats and the facts a plan records about each file."""
