"""Experiment families: the torch side of the experiments (data on a device, models, losses,
scores). An experiment's card (``workflow_scripts/experiments``) names its family's class."""
