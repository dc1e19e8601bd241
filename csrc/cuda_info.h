// Build and device facts of the CUDA side, for `kitpose info` and clear errors.
#pragma once

namespace kitpose {

// CUDA runtime version the module was built against (e.g. 13000), or 0 for a CPU-only build.
int cuda_runtime_version();
// Number of CUDA devices the driver reports; 0 when there is no driver or no device.
int cuda_device_count();

}  // namespace kitpose
