"""The fields of a shear-flow frame: the one home of their names (torch-free).

The Well's channel order (tracer, pressure, then the velocity's components): the order of the
files' and training stores' variables, of the models' channels and of the per-field metrics.
"""

FIELD_NAMES: tuple[str, str, str, str] = ("tracer", "pressure", "velocity_x", "velocity_y")
