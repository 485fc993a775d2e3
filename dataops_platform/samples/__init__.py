"""Seeded sample-data generators (``dataops generate``, tests, benchmarks): dirty files whose
dirt is known, shaped like the example project's datasets, and labelled people for entity
resolution. Data only: nothing here declares datasets or is imported by the platform."""
