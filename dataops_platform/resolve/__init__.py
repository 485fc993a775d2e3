"""Entity resolution: matching records across datasets into stable entities and golden records."""
