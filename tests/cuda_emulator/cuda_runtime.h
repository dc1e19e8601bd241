// The emulated runtime (cuda_runtime_api.h beside this file) under CUDA's other header name.
#pragma once
#include "cuda_runtime_api.h"
