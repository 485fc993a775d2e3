"""Automation: the file-landing sensor, declarative automation and the instance config."""
