"""Datasets, top-down transforms, targets and the synthetic quadruped generator.

Which module owns which job. `coco.py` reads COCO keypoint JSON and validates each annotation;
`metadata.py` names each dataset's keypoints, skeleton, flip pairs, OKS sigmas and half-body sets;
`transforms.py` owns the top-down geometry (box sanitising, box -> centre and scale, the UDP affine,
augmentations); `dataset.py` is the top-down training and evaluation dataset (one sample per
instance: crop, ImageNet normalisation from `kitpose.imagenet`, targets from `kitpose.codecs`);
`cutmix.py` is the batch cutmix. Synthetic data: `quadruped.py` draws one procedural quadruped,
`synthetic.py` writes AP-10K-format sets and the demo video (`kitpose synth`), `categories.py` writes
procedural categories for category-agnostic pose. `mp100.py` loads MP-100-format data and samples
support/query episodes with their crops.
"""
