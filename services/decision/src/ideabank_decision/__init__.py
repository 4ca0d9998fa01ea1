"""Decision (beslut om genomförande): decide, implement with trial actions, measure benefits and spread across the network."""
