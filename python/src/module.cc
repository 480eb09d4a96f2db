// The extension module murmur._murmur; the package's Python layer
// (python/murmur/__init__.py) wraps it.
#include <pybind11/pybind11.h>

#include <string>

#include "bindings.h"

namespace murmur::python {

void ThrowStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kCorrupt:
      throw py::value_error(status.message());
    default:
      throw std::runtime_error(status.ToString());
  }
}

namespace {

bool IsFloat32Format(const std::string& format) {
  return format == "f" || format == "<f" || format == "=f" || format == "@f";
}

// True when `info` is laid out in C order without gaps.
bool IsCContiguous(const py::buffer_info& info) {
  py::ssize_t expected = info.itemsize;
  for (py::ssize_t axis = info.ndim - 1; axis >= 0; --axis) {
    if (info.shape[axis] != 1 && info.strides[axis] != expected) return false;
    expected *= info.shape[axis];
  }
  return true;
}

}  // namespace

std::span<const float> FloatView(const py::buffer_info& info, const std::string& what) {
  if (!IsFloat32Format(info.format) || info.itemsize != 4) {
    throw py::type_error(what + " must hold float32 values (buffer format '" + info.format +
                         "'); convert with .astype(numpy.float32) or .float()");
  }
  if (!IsCContiguous(info)) {
    throw py::value_error(what + " must be C-contiguous; pass numpy.ascontiguousarray(x) "
                                 "or x.contiguous()");
  }
  return {static_cast<const float*>(info.ptr), static_cast<size_t>(info.size)};
}

std::span<const uint8_t> ByteView(const py::buffer_info& info, const std::string& what) {
  if (info.itemsize != 1 || !IsCContiguous(info)) {
    throw py::type_error(what + " must be a contiguous buffer of bytes (bytes, bytearray, "
                                "memoryview or a uint8 array)");
  }
  return {static_cast<const uint8_t*>(info.ptr), static_cast<size_t>(info.size)};
}

}  // namespace murmur::python

PYBIND11_MODULE(_murmur, m) {
  m.doc() = "murmur's C++ kernels: robust aggregation and compression codecs";
  m.attr("__version__") = MURMUR_VERSION;
  murmur::python::BindAggregate(m);
  murmur::python::BindCodec(m);
  murmur::python::BindGroup(m);
}
