# ruff: noqa: F821  (appended to experiments/oscillator.py, where CARD and Figure exist)
# --- added by tests/test_extending.py: one function and one registration ---
def draw_parameters(inputs, outputs, card) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = inputs.table()
    figure, ax = plt.subplots(figsize=(4, 3))
    ax.bar(table["model"], table["n_parameters"])
    ax.set(ylabel="parameters [count]", title=card.title)
    for output in outputs:
        figure.savefig(output, dpi=150)


CARD.figures["parameters"] = Figure(
    needs=("summary",), draw=draw_parameters, caption="Parameters per variant."
)
