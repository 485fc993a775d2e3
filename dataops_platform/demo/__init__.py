"""The bundled demo: three dataset contracts, a seeded dirty-data generator and its sample files."""
