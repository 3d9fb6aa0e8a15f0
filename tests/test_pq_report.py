"""The product-quantization study page: its conclusions follow its numbers."""

import copy

from core.reports.pq import conclusions, read_results


def test_the_conclusions_follow_the_numbers():
    results = read_results()
    lines = conclusions(results)
    assert lines[0].startswith("With one quantizer per component, optimal has the lowest")
    assert "codebooks over sub-vectors" in lines[2]

    uniform_wins = copy.deepcopy(results)
    for row in uniform_wins["curves"]:
        if row["method"] == "uniform":
            row["mse_held_out"] /= 100
    assert conclusions(uniform_wins)[0].startswith("With one quantizer per component, uniform")

    scalar_wins = copy.deepcopy(results)
    for rows in scalar_wins["equal_bits"].values():
        for row in rows:
            if row["m"] == max(r["m"] for r in rows):  # the M = D quantizers
                row["relative_mse"] /= 100
    text = conclusions(scalar_wins)[2]
    assert "M = 64 with 1-bit" in text and "codebooks over sub-vectors" not in text
