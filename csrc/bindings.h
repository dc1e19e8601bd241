// One register_<op>(m) function per op folder; module.cpp calls them all.
#pragma once

#include <pybind11/pybind11.h>

namespace kitpose {

namespace py = pybind11;

}  // namespace kitpose
