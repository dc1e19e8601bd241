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

# The embedded category-agnostic model (`default-cape`, FMMP small): README "Category-agnostic pose".
CAPE_SYNTHETIC_PCK = 0.808  # 1-shot PCK@0.2, the 20 unseen synthetic test categories (crop centre: 0.288)
CAPE_REAL_PCK = 0.337  # 1-shot PCK@0.2, mean over the 8 real fixture datasets (copying the support: 0.529)
CAPE_NOTE = (f"default-cape was trained for 2 h 15 min on a CPU on synthetic categories only: 1-shot PCK@0.2 "
             f"{CAPE_SYNTHETIC_PCK:.3f} on unseen synthetic categories (predicting the crop centre scores "
             f"0.288) and {CAPE_REAL_PCK:.3f} on the real fixtures (copying the support's points scores "
             "0.529): it generalises across synthetic categories, not yet to real animals")
