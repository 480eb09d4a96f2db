// murmur._murmur.Codec and the error-feedback state objects: MakeCodec and
// error_feedback.h over Python buffers, the GIL released while they run.
// Encoding hands every codec a privacy stream (PrivacyStream below), so the
// DP codec "rqm" encodes from Python too.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "murmur/compress/codec.h"
#include "murmur/compress/error_feedback.h"
#include "murmur/core/rng.h"
#include "murmur/runtime/secret_rng.h"

namespace murmur::python {
namespace {

// Frames larger than this many floats are not decoded without an explicit
// `dim` (the dimension comes from the peer's frame header; see codec.h's
// "never trusts a length").
constexpr uint64_t kDefaultMaxDecodeDim = uint64_t{1} << 28;

CodecContext Context(uint64_t seed, uint32_t sender, uint64_t step) {
  return CodecContext{.seed = seed, .sender = PeerId(sender), .step = step};
}

// The privacy stream an encode hands CodecContext::privacy_rng (what a DP
// codec such as "rqm" draws its subsets and rounding from). Without
// `privacy_seed`, a fresh 128-bit key from the operating system on every
// call (net::SecretRng, as a launched peer's): nobody can replay the draws,
// which the mechanism's guarantee needs. With it, a stream per
// (privacy_seed, sender, step), for reproducible experiments only: anyone
// who knows the seed can replay and undo the mechanism.
Rng PrivacyStream(std::optional<uint64_t> privacy_seed, uint32_t sender, uint64_t step) {
  if (!privacy_seed) return net::SecretRng();
  if (step >= (uint64_t{1} << 24)) {
    throw py::value_error("step=" + std::to_string(step) +
                          " must be below 2^24 with privacy_seed");
  }
  return Rng::ForStep(*privacy_seed, PeerId(sender), RngPurpose::kRounding, step);
}

CodecContext EncodeContext(uint64_t seed, uint32_t sender, uint64_t step, Rng& privacy) {
  CodecContext ctx = Context(seed, sender, step);
  ctx.privacy_rng = &privacy;
  return ctx;
}

py::bytes ToBytes(const std::vector<uint8_t>& bytes) {
  return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

py::array_t<float> ToArray(std::span<const float> values) {
  py::array_t<float> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

// The dimension a frame's header declares (u8 codec id | LEB128 varint).
uint64_t FrameDimension(std::span<const uint8_t> frame, uint64_t max_dim) {
  uint64_t dim = 0;
  int shift = 0;
  for (size_t i = 1; i < frame.size() && shift < 64; ++i, shift += 7) {
    dim |= static_cast<uint64_t>(frame[i] & 0x7f) << shift;
    if ((frame[i] & 0x80) == 0) {
      if (dim > max_dim) {
        throw py::value_error("frame declares dimension " + std::to_string(dim) +
                              ", above max_dim=" + std::to_string(max_dim) +
                              "; pass dim= to decode it");
      }
      return dim;
    }
  }
  throw py::value_error("corrupt frame: truncated header (" + std::to_string(frame.size()) +
                        " bytes)");
}

py::bytes Encode(const Codec& codec, const py::buffer& x, uint64_t seed, uint32_t sender,
                 uint64_t step, std::optional<uint64_t> privacy_seed) {
  const py::buffer_info info = x.request();
  const std::span<const float> values = FloatView(info, "x");
  ByteWriter out(codec.MaxEncodedSize(values.size()));
  Rng privacy = PrivacyStream(privacy_seed, sender, step);
  Status status;
  {
    py::gil_scoped_release release;
    status = codec.Encode(values, EncodeContext(seed, sender, step, privacy), out);
  }
  if (!status.ok()) ThrowStatus(status);
  return ToBytes(out.bytes());
}

py::array_t<float> Decode(const Codec& codec, const py::buffer& frame,
                          std::optional<uint64_t> dim, uint64_t seed, uint32_t sender,
                          uint64_t step, uint64_t max_dim) {
  const py::buffer_info info = frame.request();
  const std::span<const uint8_t> bytes = ByteView(info, "frame");
  const uint64_t size = dim ? *dim : FrameDimension(bytes, max_dim);
  py::array_t<float> out(static_cast<py::ssize_t>(size));
  const std::span<float> out_view(out.mutable_data(), size);
  Status status;
  {
    py::gil_scoped_release release;
    status = codec.Decode(bytes, Context(seed, sender, step), out_view);
  }
  if (!status.ok()) ThrowStatus(status);
  return out;
}

py::tuple DecodeSparse(const Codec& codec, const py::buffer& frame, uint64_t dim,
                       uint64_t seed, uint32_t sender, uint64_t step) {
  const py::buffer_info info = frame.request();
  const std::span<const uint8_t> bytes = ByteView(info, "frame");
  SparseUpdate update;
  Status status;
  {
    py::gil_scoped_release release;
    status = codec.DecodeSparse(bytes, Context(seed, sender, step), dim, update);
  }
  if (!status.ok()) ThrowStatus(status);
  py::array_t<uint32_t> indices(static_cast<py::ssize_t>(update.indices.size()));
  std::copy(update.indices.begin(), update.indices.end(), indices.mutable_data());
  return py::make_tuple(indices, ToArray(update.values));
}

py::tuple EncodeAndDecode(const Codec& codec, const py::buffer& x, uint64_t seed,
                          uint32_t sender, uint64_t step, std::optional<uint64_t> privacy_seed) {
  const py::buffer_info info = x.request();
  const std::span<const float> values = FloatView(info, "x");
  ByteWriter out(codec.MaxEncodedSize(values.size()));
  py::array_t<float> decoded(static_cast<py::ssize_t>(values.size()));
  const std::span<float> decoded_view(decoded.mutable_data(), values.size());
  Rng privacy = PrivacyStream(privacy_seed, sender, step);
  Status status;
  {
    py::gil_scoped_release release;
    status = codec.EncodeAndDecode(values, EncodeContext(seed, sender, step, privacy), out,
                                   decoded_view);
  }
  if (!status.ok()) ThrowStatus(status);
  return py::make_tuple(ToBytes(out.bytes()), decoded);
}

// An error-feedback wrapper together with the codec it borrows (kept alive
// by the shared_ptr).
template <typename Encoder>
struct Stateful {
  std::shared_ptr<const Codec> codec;
  size_t dim;
  Encoder encoder;

  template <typename... Args>
  Stateful(std::shared_ptr<const Codec> c, size_t d, Args... args)
      : codec(std::move(c)), dim(d), encoder(*codec, d, args...) {}

  py::bytes Encode(const py::buffer& x, uint64_t seed, uint32_t sender, uint64_t step,
                   std::optional<uint64_t> privacy_seed) {
    const py::buffer_info info = x.request();
    const std::span<const float> values = FloatView(info, "x");
    if (values.size() != dim) {
      throw py::value_error("x has " + std::to_string(values.size()) +
                            " values; this encoder was made for dim=" + std::to_string(dim));
    }
    ByteWriter out(codec->MaxEncodedSize(dim));
    Rng privacy = PrivacyStream(privacy_seed, sender, step);
    Status status;
    {
      py::gil_scoped_release release;
      status = encoder.Encode(values, EncodeContext(seed, sender, step, privacy), out);
    }
    if (!status.ok()) ThrowStatus(status);
    return ToBytes(out.bytes());
  }
};

std::shared_ptr<const Codec> MakeCodecOrThrow(const std::string& spec) {
  Result<std::unique_ptr<Codec>> made = MakeCodec(spec);
  if (!made.ok()) ThrowStatus(made.status());
  return std::shared_ptr<const Codec>(std::move(made).value());
}

void CheckDim(size_t dim) {
  if (dim == 0) throw py::value_error("dim must be positive");
}

template <typename Encoder, typename... Extra>
py::class_<Stateful<Encoder>> BindEncoder(py::module_& m, const char* name, const char* doc) {
  using S = Stateful<Encoder>;
  py::class_<S> cls(m, name, doc);
  cls.def("encode", &S::Encode, py::arg("x"), py::kw_only(), py::arg("seed") = 0,
          py::arg("sender") = 0, py::arg("step") = 0, py::arg("privacy_seed") = py::none(),
          "Encodes x with the state's correction and updates the state; returns the frame.")
      .def("reset", [](S& s) { s.encoder.Reset(); }, "Back to the initial (zero) state.")
      .def_property_readonly("codec_input",
                             [](const S& s) { return ToArray(s.encoder.codec_input()); },
                             "What the last encode handed the codec (a copy).")
      .def_readonly("dim", &S::dim);
  return cls;
}

}  // namespace

void BindCodec(py::module_& m) {
  py::class_<Codec, std::shared_ptr<Codec>>(m, "Codec",
                                           "A codec chain built by murmur.codec(spec); "
                                           "immutable and thread-safe.")
      .def_property_readonly("name", &Codec::name, "The canonical spec string.")
      .def_property_readonly("id", [](const Codec& c) { return static_cast<int>(c.id()); },
                             "The wire id (the frame's first byte).")
      .def("max_encoded_size", &Codec::MaxEncodedSize, py::arg("dim"))
      .def("encode", &Encode, py::arg("x"), py::kw_only(), py::arg("seed") = 0,
           py::arg("sender") = 0, py::arg("step") = 0, py::arg("privacy_seed") = py::none(),
           "Encodes x. A DP codec (\"rqm\") draws its randomness from the operating "
           "system, or, with privacy_seed, from a stream anyone with that seed can replay.")
      .def("decode", &Decode, py::arg("frame"), py::arg("dim") = py::none(), py::kw_only(),
           py::arg("seed") = 0, py::arg("sender") = 0, py::arg("step") = 0,
           py::arg("max_dim") = kDefaultMaxDecodeDim)
      .def("decode_sparse", &DecodeSparse, py::arg("frame"), py::arg("dim"), py::kw_only(),
           py::arg("seed") = 0, py::arg("sender") = 0, py::arg("step") = 0)
      .def("encode_and_decode", &EncodeAndDecode, py::arg("x"), py::kw_only(),
           py::arg("seed") = 0, py::arg("sender") = 0, py::arg("step") = 0,
           py::arg("privacy_seed") = py::none())
      .def("__repr__", [](const Codec& c) { return "murmur.codec('" + c.name() + "')"; });
  m.def(
      "codec",
      [](const std::string& spec) {
        return std::const_pointer_cast<Codec>(MakeCodecOrThrow(spec));
      },
      py::arg("spec"));

  BindEncoder<ErrorFeedbackEncoder>(m, "ErrorFeedback",
                                    "Classic error feedback: p = x + e; send C(p); "
                                    "e <- p - C(p) (error_feedback.h).")
      .def(py::init([](std::shared_ptr<Codec> codec, size_t dim) {
             CheckDim(dim);
             return std::make_unique<Stateful<ErrorFeedbackEncoder>>(codec, dim);
           }),
           py::arg("codec"), py::arg("dim"))
      .def_property_readonly("error", [](const Stateful<ErrorFeedbackEncoder>& s) {
        return ToArray(s.encoder.error());
      });
  BindEncoder<Ef21Encoder>(m, "Ef21", "EF21: c = C(x - g); send c; g <- g + c.")
      .def(py::init([](std::shared_ptr<Codec> codec, size_t dim) {
             CheckDim(dim);
             return std::make_unique<Stateful<Ef21Encoder>>(codec, dim);
           }),
           py::arg("codec"), py::arg("dim"))
      .def_property_readonly("estimate", [](const Stateful<Ef21Encoder>& s) {
        return ToArray(s.encoder.estimate());
      });
  BindEncoder<EControlEncoder>(m, "EControl",
                               "EControl: EF21's estimate h plus an error term e fed back "
                               "with strength eta.")
      .def(py::init([](std::shared_ptr<Codec> codec, size_t dim, float eta) {
             CheckDim(dim);
             if (!(eta >= 0) || !std::isfinite(eta)) {
               throw py::value_error("eta must be finite and >= 0");
             }
             return std::make_unique<Stateful<EControlEncoder>>(codec, dim, eta);
           }),
           py::arg("codec"), py::arg("dim"), py::arg("eta"))
      .def_property_readonly("estimate", [](const Stateful<EControlEncoder>& s) {
        return ToArray(s.encoder.estimate());
      })
      .def_property_readonly("error", [](const Stateful<EControlEncoder>& s) {
        return ToArray(s.encoder.error());
      })
      .def_property_readonly("eta", [](const Stateful<EControlEncoder>& s) {
        return s.encoder.eta();
      });

  using Receiver = Stateful<EstimateReceiver>;
  py::class_<Receiver>(m, "EstimateReceiver",
                       "The receiving side of EF21 and EControl for one sender.")
      .def(py::init([](std::shared_ptr<Codec> codec, size_t dim) {
             CheckDim(dim);
             return std::make_unique<Receiver>(codec, dim);
           }),
           py::arg("codec"), py::arg("dim"))
      .def(
          "receive",
          [](Receiver& r, const py::buffer& frame, uint64_t seed, uint32_t sender,
             uint64_t step) {
            const py::buffer_info info = frame.request();
            const std::span<const uint8_t> bytes = ByteView(info, "frame");
            Status status;
            {
              py::gil_scoped_release release;
              status = r.encoder.Receive(bytes, Context(seed, sender, step));
            }
            if (!status.ok()) ThrowStatus(status);
          },
          py::arg("frame"), py::kw_only(), py::arg("seed") = 0, py::arg("sender") = 0,
          py::arg("step") = 0, "estimate <- estimate + decode(frame).")
      .def("reset", [](Receiver& r) { r.encoder.Reset(); })
      .def_property_readonly("estimate",
                             [](const Receiver& r) { return ToArray(r.encoder.estimate()); })
      .def_readonly("dim", &Receiver::dim);
}

}  // namespace murmur::python
