"""Quality: the contract compiled to pandera and to Dagster asset checks."""
