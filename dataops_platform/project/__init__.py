"""User projects: finding, validating, loading and creating the ``dg`` projects whose
``defs/`` folders declare datasets, marts and entities with the platform's components."""
