"""What the embedded default model is good for, measured, in one place (torch-free: `kitpose info`
and every `--model default` help read it).

The numbers are re-measured by tests/test_default_model.py, which fails when the model changes
and these sentences would stop being true.
"""
from __future__ import annotations

SYNTHETIC_AP = 0.720  # held-out synthetic validation split (README "The default model")
REAL_FIXTURE_AP = 0.000  # the real AP-10K fixture images (same 17-keypoint layout)
REAL_FIXTURE_COMMAND = ("kitpose eval --model default --dataset ap10k "
                        "--annotations ../shared/fixtures/real/ap10k/test_ap10k.json "
                        "--images ../shared/fixtures/real/ap10k")

SHORT_NOTE = (f"trained on synthetic quadrupeds only: AP {SYNTHETIC_AP:.3f} on synthetic animals, "
              f"AP {REAL_FIXTURE_AP:.3f} on real AP-10K images")
HOW_TO_REAL = ("for real animals, train on AP-10K (kitpose train configs/ap10k_kitpose_w32_256.yaml) or "
               "import official KITPose weights (kitpose convert-official)")
NOTE = f"the embedded default model is {SHORT_NOTE}; {HOW_TO_REAL}"
MODEL_HELP = (f"'default' (the embedded demo model, {SHORT_NOTE}), a preset name, or a kitpose "
              f"checkpoint path.")
