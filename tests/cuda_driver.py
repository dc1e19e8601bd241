"""Run every CUDA op once on small and edge-case inputs, for compute-sanitizer (make gpu-check):

    compute-sanitizer --tool memcheck --error-exitcode 1 python tests/cuda_driver.py
    compute-sanitizer --tool racecheck --error-exitcode 1 python tests/cuda_driver.py
"""
import numpy as np
import torch

from kitpose.ops import compiled


def main() -> None:
    rng = np.random.default_rng(0)
    for b, n, d, c in ((1, 1, 1, 1), (3, 17, 4096, 4), (2, 64, 16384, 8), (5, 8, 33, 8)):
        x = torch.from_numpy(rng.random((b, n, d), dtype=np.float32)).cuda()
        compiled.kmedoids_with_means(x, c)
    x = torch.zeros(2, 17, 64, device="cuda")  # all-zero rows
    compiled.kmedoids_with_means(x, 4)
    for shape in ((1, 1, 1, 1), (4, 17, 64, 48), (2, 3, 5, 7)):
        maps = torch.from_numpy(rng.random(shape, dtype=np.float32)).cuda()
        compiled.dark_decode(maps)
        compiled.dark_decode(maps.half())
        compiled.dark_decode(maps, center=np.zeros((shape[0], 2)), scale=np.ones((shape[0], 2)))
    frame = torch.randint(0, 256, (37, 53, 3), dtype=torch.uint8, device="cuda")
    mats = torch.tensor([[[0.5, 0.1, -3.0], [-0.1, 0.5, 2.0]]] * 4, dtype=torch.float64).cuda()
    compiled.warp_affine(frame, mats, (9, 11))
    torch.cuda.synchronize()
    print("cuda_driver: all ops ran")


if __name__ == "__main__":
    main()
