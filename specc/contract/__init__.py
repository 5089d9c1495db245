"""The eval contract: the golden-set firewall, the forgetting gate and the standalone check."""
