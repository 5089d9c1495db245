"""Registries of facts about models: closed-API providers and open licences, with their sources."""
