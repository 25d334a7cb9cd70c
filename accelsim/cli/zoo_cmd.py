"""``accelsim zoo``: the shipped models, one line each."""

__all__ = ["register", "format_table"]

_COLUMNS = ("name", "dataset", "arch", "method", "clip", "p_train", "bits", "quant_scheme", "clean_accuracy",
            "metric", "clean_metric")


def register(subparsers):
    parser = subparsers.add_parser("zoo", help="list the trained models shipped with accelsim",
                                   description="List the model zoo: names to pass to `accelsim sweep --model` "
                                               "and accelsim.load_model, with how each was trained.")
    parser.set_defaults(handler=_run)


def format_table(records):
    """A fixed-width table of zoo records, a header line first."""
    rows = [_COLUMNS] + [tuple(_cell(getattr(r, c), c) for c in _COLUMNS) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def _cell(value, column):
    if value is None:
        return "-"
    if column == "clean_accuracy":
        return f"{value * 100:.2f}%"
    if column == "clean_metric":
        return f"{value:.3f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _run(args):
    from accelsim.models import zoo

    records = zoo()
    print(format_table(records))
    return 0
