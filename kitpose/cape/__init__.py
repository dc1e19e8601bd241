"""Category-agnostic pose (CAPE, FMMP): keypoints of a kind never trained on, from annotated support
images. Host-side pieces here are torch-free (the runtime encodes a support set without torch):
`padding` (keypoints to a fixed K = 70), `structure` (the BFS structure table), `pck` (the metric).
Spec: FMMP_SPEC.md in the project's shared design documents (`../shared/docs/` beside the checkout).
"""
