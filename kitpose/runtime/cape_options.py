"""The --support options of `kitpose infer` (--support IMG --support-keypoints JSON, once per shot)
as a CapePipeline; their errors are click errors naming the option."""
from __future__ import annotations

import click

from kitpose.runtime.cape_pipeline import CapePipeline
from kitpose.runtime.cape_support import SupportError, read_support_file
from kitpose.runtime.model_files import resolve_cape_model

SUPPORT_HINT = "--support / --support-keypoints"


def cape_estimator(model: str, supports: tuple[str, ...], keypoint_files: tuple[str, ...],
                   device: str) -> CapePipeline:
    """A CapePipeline for the --support/--support-keypoints pairs and a CAPE --model.

    Args:
        model: "default-cape", an FMMP checkpoint (exported once, cached) or a CAPE ONNX folder.
        supports: support image per shot.
        keypoint_files: support file (COCO-style JSON) per shot, in the same order.
        device: "cpu" or "cuda" (ORT execution providers).
    Returns:
        The pipeline, its support already encoded.
    """
    if len(supports) != len(keypoint_files):
        raise click.UsageError(f"give one --support-keypoints per --support (got {len(supports)} --support, "
                               f"{len(keypoint_files)} --support-keypoints)")
    try:
        read = [read_support_file(ann, img) for img, ann in zip(supports, keypoint_files)]
    except SupportError as err:
        raise click.BadParameter(str(err), param_hint=SUPPORT_HINT) from None
    shots, category = [shot for shot, _ in read], read[0][1]
    if any(c.keypoint_names != category.keypoint_names or c.skeleton != category.skeleton for _, c in read):
        raise click.BadParameter("every support file must name the same keypoints and skeleton",
                                 param_hint="--support-keypoints")
    try:
        folder = resolve_cape_model(model, shots=len(shots))
        return CapePipeline.from_folder(folder, shots, category, device=device)
    except SupportError as err:  # the support does not fit the model (shots, nothing visible in the crop)
        raise click.BadParameter(str(err), param_hint=SUPPORT_HINT) from None
    except (FileNotFoundError, ImportError, ValueError, RuntimeError) as err:  # ModelFileError among them
        raise click.BadParameter(str(err), param_hint="--model") from None


__all__ = ["cape_estimator"]
