"""Where the real annotation samples live and which metadata each file uses."""
from helpers import FIXTURES as REAL

# folder, annotation file, built-in metadata name (None: metadata from the JSON's categories)
KEYPOINT_FILES = [
    ("ap10k", "test_ap10k.json", "ap10k"),
    ("animalpose", "test_animalpose.json", "animalpose"),
    ("ak", "test_animalkingdom.json", "animalkingdom"),
    ("coco", "test_coco.json", "coco"),
    ("horse10", "test_horse10.json", None),
    ("macaque", "test_macaque.json", None),
    ("atrw", "test_atrw.json", None),
    ("zebra", "test_zebra.json", None),
]
