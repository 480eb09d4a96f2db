// Shared pieces of the Python extension `murmur._murmur` (docs/python.md).
//
// Buffers from Python are read in place: a float32, C-contiguous buffer
// (numpy array, or a torch CPU tensor's .numpy() view, which shares its
// memory) becomes a std::span over the caller's memory, with no copy. The
// py::buffer_info that owns the view must outlive the span.
//
// Errors: a bad Python type or dtype raises TypeError; a bad shape or value,
// and every kInvalidArgument or kCorrupt Status, raise ValueError carrying
// the Status message (the same text the CLI prints); other codes raise
// RuntimeError.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <span>

#include "murmur/core/status.h"

namespace murmur::python {

namespace py = pybind11;

// Raises the Python exception for a non-OK `status` (see above).
// REQUIRES: !status.ok().
[[noreturn]] void ThrowStatus(const Status& status);

// A view of `info` as floats, flattened in C order. TypeError unless the
// buffer holds float32; ValueError unless it is C-contiguous. `what` names
// the argument in messages, e.g. "inputs[2]".
std::span<const float> FloatView(const py::buffer_info& info, const std::string& what);

// A view of a buffer of bytes (bytes, bytearray, memoryview, uint8 array).
std::span<const uint8_t> ByteView(const py::buffer_info& info, const std::string& what);

void BindAggregate(py::module_& m);
void BindCodec(py::module_& m);
void BindGroup(py::module_& m);

}  // namespace murmur::python
