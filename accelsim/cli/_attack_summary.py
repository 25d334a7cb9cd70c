"""What ``accelsim sweep --attack`` prints and draws besides the sweep's own output."""

__all__ = ["print_attack_summary"]


def print_attack_summary(result, spec):
    """Draw attack_voltage.png and print, per model, random against worst case at the lowest voltage."""
    from accelsim.plot import draw_attack_voltage

    path = draw_attack_voltage(result.directory)
    print(f"worst case: {path} (random faults vs {spec.attack} chosen flips on top, per voltage)")
    by_model = {}
    for row in result.summary:
        protection = row.get("protection", "none")
        label = row["model"] if protection in ("none", "") else f"{row['model']} [{protection}]"
        by_model.setdefault(label, []).append(row)
    for model, rows in by_model.items():
        for row in (rows[0], rows[-1]):  # highest and lowest voltage
            print(f"worst case: {model}: {float(row['vdd_v']):.3f} V: accuracy {float(row['accuracy']) * 100:.1f}% "
                  f"with random faults, {float(row['attack_accuracy']) * 100:.1f}% after {spec.attack} "
                  f"(robust error {float(row['attack_robust_error']) * 100:.1f}%)")
